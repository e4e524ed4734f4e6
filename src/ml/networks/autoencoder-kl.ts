import * as tf from '@tensorflow/tfjs';
import { AttentionBlock } from '../nn/attention';
import { Convolution, GroupNorm, padBottomRight, silu, upsampleNearest2x } from '../nn/layers';
import type { Scope } from '../nn/parameters';
import { boolList, checkKnownKeys, configError, divisibleByGroups, perLevel, positiveInt, positiveIntList, requireDefault, requireSpatial2d } from './config';
import { Network } from './network';

/**
 * MONAI GenerativeModels 0.2.2 AutoencoderKL (2-D). Images and latents are NHWC tensors; convert
 * NCHW data at the edges with nchwToNhwc / nhwcToNchw (src/ml/nn/layout).
 */
export interface AutoencoderKLConfig {
  spatial_dims: number;
  in_channels: number;
  out_channels: number;
  num_channels: number[];
  latent_channels: number;
  num_res_blocks: number | number[];
  norm_num_groups?: number;
  norm_eps?: number;
  attention_levels?: boolean[];
  with_encoder_nonlocal_attn?: boolean;
  with_decoder_nonlocal_attn?: boolean;
  use_flash_attention?: boolean;
  use_checkpointing?: boolean;
  use_convtranspose?: boolean;
}

export interface ResolvedAutoencoderKLConfig {
  inChannels: number;
  outChannels: number;
  numChannels: number[];
  latentChannels: number;
  numResBlocks: number[];
  normGroups: number;
  normEps: number;
  attentionLevels: boolean[];
  encoderNonlocalAttn: boolean;
  decoderNonlocalAttn: boolean;
}

const NET = 'autoencoderkl';
const KEYS = [
  'spatial_dims',
  'in_channels',
  'out_channels',
  'num_channels',
  'latent_channels',
  'num_res_blocks',
  'norm_num_groups',
  'norm_eps',
  'attention_levels',
  'with_encoder_nonlocal_attn',
  'with_decoder_nonlocal_attn',
  'use_flash_attention',
  'use_checkpointing',
  'use_convtranspose',
] as const;

export function resolveAutoencoderKLConfig(cfg: AutoencoderKLConfig): ResolvedAutoencoderKLConfig {
  checkKnownKeys(NET, cfg, KEYS);
  requireSpatial2d(NET, cfg.spatial_dims);
  requireDefault(NET, 'use_convtranspose', cfg.use_convtranspose, false, 'the reference upsamples with nearest + conv');
  const numChannels = positiveIntList(NET, 'num_channels', cfg.num_channels);
  const levels = numChannels.length;
  const normGroups = positiveInt(NET, 'norm_num_groups', cfg.norm_num_groups ?? 32);
  divisibleByGroups(NET, numChannels, normGroups);
  const numResBlocks = perLevel(NET, 'num_res_blocks', cfg.num_res_blocks, levels).map((n, i) => positiveInt(NET, `num_res_blocks[${i}]`, n));
  const normEps = cfg.norm_eps ?? 1e-6;
  if (!(normEps > 0)) throw configError(NET, `norm_eps must be positive, got ${normEps}`);
  return {
    inChannels: positiveInt(NET, 'in_channels', cfg.in_channels),
    outChannels: positiveInt(NET, 'out_channels', cfg.out_channels),
    numChannels,
    latentChannels: positiveInt(NET, 'latent_channels', cfg.latent_channels),
    numResBlocks,
    normGroups,
    normEps,
    // MONAI's defaults (attention at the two deepest levels, non-local attention on) apply when omitted.
    attentionLevels: boolList(NET, 'attention_levels', cfg.attention_levels ?? numChannels.map((_, i) => i >= levels - 2), levels),
    encoderNonlocalAttn: cfg.with_encoder_nonlocal_attn ?? true,
    decoderNonlocalAttn: cfg.with_decoder_nonlocal_attn ?? true,
  };
}

/** AE ResBlock: GN -> SiLU -> conv3 -> GN -> SiLU -> conv3, plus nin_shortcut (1x1) when channels change. */
class AeResBlock {
  private readonly norm1: GroupNorm;
  private readonly conv1: Convolution;
  private readonly norm2: GroupNorm;
  private readonly conv2: Convolution;
  private readonly ninShortcut: Convolution | null;

  constructor(scope: Scope, cin: number, cout: number, groups: number, eps: number) {
    this.norm1 = new GroupNorm(scope.child('norm1'), groups, cin, eps);
    this.conv1 = new Convolution(scope.child('conv1'), { inChannels: cin, outChannels: cout, kernelSize: 3, padding: 1 });
    this.norm2 = new GroupNorm(scope.child('norm2'), groups, cout, eps);
    this.conv2 = new Convolution(scope.child('conv2'), { inChannels: cout, outChannels: cout, kernelSize: 3, padding: 1 });
    this.ninShortcut = cin !== cout ? new Convolution(scope.child('nin_shortcut'), { inChannels: cin, outChannels: cout, kernelSize: 1 }) : null;
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    let h = this.conv1.apply(silu(this.norm1.apply(x)));
    h = this.conv2.apply(silu(this.norm2.apply(h)));
    return tf.add(this.ninShortcut ? this.ninShortcut.apply(x) : x, h);
  }
}

type Block = { apply(x: tf.Tensor4D): tf.Tensor4D };

/** Downsample: pad right/bottom by 1, conv3x3 stride 2 padding 0 (halves even sizes). */
function aeDownsample(scope: Scope, c: number): Block {
  const conv = new Convolution(scope.child('conv'), { inChannels: c, outChannels: c, kernelSize: 3, stride: 2, padding: 0 });
  return { apply: (x) => conv.apply(padBottomRight(x)) };
}

/** Upsample: nearest x2 then conv3x3 padding 1. */
function aeUpsample(scope: Scope, c: number): Block {
  const conv = new Convolution(scope.child('conv'), { inChannels: c, outChannels: c, kernelSize: 3, padding: 1 });
  return { apply: (x) => conv.apply(upsampleNearest2x(x)) };
}

function buildEncoder(scope: Scope, c: ResolvedAutoencoderKLConfig): Block[] {
  const blocks: Block[] = [];
  const b = (i: number): Scope => scope.child('blocks').child(i);
  blocks.push(new Convolution(b(0), { inChannels: c.inChannels, outChannels: c.numChannels[0], kernelSize: 3, padding: 1 }));
  let out = c.numChannels[0];
  for (let i = 0; i < c.numChannels.length; i++) {
    let cin = out;
    out = c.numChannels[i];
    for (let r = 0; r < c.numResBlocks[i]; r++) {
      blocks.push(new AeResBlock(b(blocks.length), cin, out, c.normGroups, c.normEps));
      cin = out;
      if (c.attentionLevels[i]) blocks.push(new AttentionBlock(b(blocks.length), cin, c.normGroups, c.normEps));
    }
    if (i !== c.numChannels.length - 1) blocks.push(aeDownsample(b(blocks.length), cin));
  }
  const last = c.numChannels[c.numChannels.length - 1];
  if (c.encoderNonlocalAttn) {
    blocks.push(new AeResBlock(b(blocks.length), last, last, c.normGroups, c.normEps));
    blocks.push(new AttentionBlock(b(blocks.length), last, c.normGroups, c.normEps));
    blocks.push(new AeResBlock(b(blocks.length), last, last, c.normGroups, c.normEps));
  }
  // The reference applies no SiLU between this GroupNorm and the last conv.
  blocks.push(new GroupNorm(b(blocks.length), c.normGroups, last, c.normEps));
  blocks.push(new Convolution(b(blocks.length), { inChannels: last, outChannels: c.latentChannels, kernelSize: 3, padding: 1 }));
  return blocks;
}

function buildDecoder(scope: Scope, c: ResolvedAutoencoderKLConfig): Block[] {
  const blocks: Block[] = [];
  const b = (i: number): Scope => scope.child('blocks').child(i);
  const rev = [...c.numChannels].reverse();
  const revRes = [...c.numResBlocks].reverse();
  const revAttn = [...c.attentionLevels].reverse();
  blocks.push(new Convolution(b(0), { inChannels: c.latentChannels, outChannels: rev[0], kernelSize: 3, padding: 1 }));
  if (c.decoderNonlocalAttn) {
    blocks.push(new AeResBlock(b(blocks.length), rev[0], rev[0], c.normGroups, c.normEps));
    blocks.push(new AttentionBlock(b(blocks.length), rev[0], c.normGroups, c.normEps));
    blocks.push(new AeResBlock(b(blocks.length), rev[0], rev[0], c.normGroups, c.normEps));
  }
  let out = rev[0];
  let cin = out;
  for (let i = 0; i < rev.length; i++) {
    cin = out;
    out = rev[i];
    for (let r = 0; r < revRes[i]; r++) {
      blocks.push(new AeResBlock(b(blocks.length), cin, out, c.normGroups, c.normEps));
      cin = out;
      if (revAttn[i]) blocks.push(new AttentionBlock(b(blocks.length), cin, c.normGroups, c.normEps));
    }
    if (i !== rev.length - 1) blocks.push(aeUpsample(b(blocks.length), cin));
  }
  blocks.push(new GroupNorm(b(blocks.length), c.normGroups, c.numChannels[0], c.normEps));
  blocks.push(new Convolution(b(blocks.length), { inChannels: cin, outChannels: c.outChannels, kernelSize: 3, padding: 1 }));
  return blocks;
}

export interface AutoencoderKLOutput {
  reconstruction: tf.Tensor4D;
  mu: tf.Tensor4D;
  sigma: tf.Tensor4D;
}

export class AutoencoderKL extends Network {
  readonly config: ResolvedAutoencoderKLConfig;
  private readonly encoder: Block[];
  private readonly decoder: Block[];
  private readonly quantConvMu: Convolution;
  private readonly quantConvLogSigma: Convolution;
  private readonly postQuantConv: Convolution;

  constructor(config: AutoencoderKLConfig) {
    super();
    this.config = resolveAutoencoderKLConfig(config);
    const l = this.config.latentChannels;
    this.encoder = buildEncoder(this.root.child('encoder'), this.config);
    this.decoder = buildDecoder(this.root.child('decoder'), this.config);
    const head = { inChannels: l, outChannels: l, kernelSize: 1 };
    this.quantConvMu = new Convolution(this.root.child('quant_conv_mu'), head);
    this.quantConvLogSigma = new Convolution(this.root.child('quant_conv_log_sigma'), head);
    this.postQuantConv = new Convolution(this.root.child('post_quant_conv'), head);
  }

  /** Spatial downsampling factor image -> latent (2^(levels-1)). */
  get downsampleFactor(): number {
    return 2 ** (this.config.numChannels.length - 1);
  }

  /** x NHWC -> posterior mean and standard deviation (log-variance clamped to [-30, 20]). */
  encode(x: tf.Tensor4D): { mu: tf.Tensor4D; sigma: tf.Tensor4D } {
    let h = x;
    for (const block of this.encoder) h = block.apply(h);
    const mu = this.quantConvMu.apply(h);
    const logVar = tf.clipByValue(this.quantConvLogSigma.apply(h), -30, 20);
    return { mu, sigma: tf.exp(tf.mul(logVar, 0.5)) as tf.Tensor4D };
  }

  /** z = mu + sigma * eps (eps ~ N(0, I) unless given). */
  sample(mu: tf.Tensor4D, sigma: tf.Tensor4D, eps?: tf.Tensor4D): tf.Tensor4D {
    const noise = eps ?? tf.randomNormal(mu.shape);
    return tf.add(mu, tf.mul(sigma, noise)) as tf.Tensor4D;
  }

  decode(z: tf.Tensor4D): tf.Tensor4D {
    let h = this.postQuantConv.apply(z);
    for (const block of this.decoder) h = block.apply(h);
    return h;
  }

  /** decode(mu): what the reference's reconstruction metrics use. */
  reconstruct(x: tf.Tensor4D): tf.Tensor4D {
    return this.decode(this.encode(x).mu);
  }

  /** The training forward pass: sampled z, as MONAI's forward(). */
  forward(x: tf.Tensor4D, eps?: tf.Tensor4D): AutoencoderKLOutput {
    const { mu, sigma } = this.encode(x);
    return { reconstruction: this.decode(this.sample(mu, sigma, eps)), mu, sigma };
  }
}

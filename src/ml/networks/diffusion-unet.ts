import * as tf from '@tensorflow/tfjs';
import { Convolution, GroupNorm, Linear, silu, ZEROS } from '../nn/layers';
import type { Scope } from '../nn/parameters';
import { boolList, checkKnownKeys, configError, divisibleByGroups, perLevel, positiveInt, positiveIntList, requireDefault, requireSpatial2d } from './config';
import { Network } from './network';
import { DownBlock, MidBlock, UpBlock, timestepEmbedding, type AttentionOptions, type BlockOptions } from './unet-blocks';

/**
 * MONAI GenerativeModels 0.2.2 DiffusionModelUNet (2-D), NHWC activations. The config uses MONAI's
 * constructor argument names (a manifest.json / ldm YAML `params` section loads as-is).
 */
export interface DiffusionUNetConfig {
  spatial_dims: number;
  in_channels: number;
  out_channels: number;
  num_res_blocks?: number | number[];
  num_channels?: number[];
  attention_levels?: boolean[];
  norm_num_groups?: number;
  norm_eps?: number;
  resblock_updown?: boolean;
  num_head_channels?: number | number[];
  with_conditioning?: boolean;
  transformer_num_layers?: number;
  cross_attention_dim?: number | null;
  num_class_embeds?: number | null;
  upcast_attention?: boolean;
  use_flash_attention?: boolean;
  dropout_cattn?: number;
}

/** The part of the configuration the UNet encoder shares with ControlNet. */
export interface ResolvedUNetEncoderConfig {
  inChannels: number;
  numChannels: number[];
  numResBlocks: number[];
  attentionLevels: boolean[];
  numHeadChannels: number[];
  normGroups: number;
  normEps: number;
  withConditioning: boolean;
  crossAttentionDim?: number;
  transformerNumLayers: number;
}

export interface ResolvedDiffusionUNetConfig extends ResolvedUNetEncoderConfig {
  outChannels: number;
}

export const UNET_ENCODER_KEYS = [
  'spatial_dims',
  'in_channels',
  'num_res_blocks',
  'num_channels',
  'attention_levels',
  'norm_num_groups',
  'norm_eps',
  'resblock_updown',
  'num_head_channels',
  'with_conditioning',
  'transformer_num_layers',
  'cross_attention_dim',
  'num_class_embeds',
  'upcast_attention',
  'use_flash_attention',
  'dropout_cattn',
] as const;

type EncoderConfigInput = Omit<DiffusionUNetConfig, 'out_channels'>;

/** Validates the shared UNet/ControlNet fields with MONAI's defaults and checks. */
export function resolveUNetEncoderConfig(net: string, cfg: EncoderConfigInput): ResolvedUNetEncoderConfig {
  requireSpatial2d(net, cfg.spatial_dims);
  requireDefault(net, 'resblock_updown', cfg.resblock_updown, false, 'the reference uses conv up/downsampling');
  if (cfg.num_class_embeds !== undefined && cfg.num_class_embeds !== null) throw configError(net, 'num_class_embeds is not supported (the reference has no class conditioning)');
  if (cfg.dropout_cattn !== undefined && cfg.dropout_cattn !== 0) throw configError(net, 'dropout_cattn must be 0 (no dropout anywhere in the reference)');
  const numChannels = positiveIntList(net, 'num_channels', cfg.num_channels ?? [32, 64, 64, 64]);
  const levels = numChannels.length;
  const normGroups = positiveInt(net, 'norm_num_groups', cfg.norm_num_groups ?? 32);
  divisibleByGroups(net, numChannels, normGroups);
  const attentionLevels = boolList(net, 'attention_levels', cfg.attention_levels ?? numChannels.map((_, i) => i >= levels - 2), levels);
  const numResBlocks = perLevel(net, 'num_res_blocks', cfg.num_res_blocks ?? 2, levels).map((n, i) => positiveInt(net, `num_res_blocks[${i}]`, n));
  const numHeadChannels = perLevel(net, 'num_head_channels', cfg.num_head_channels ?? 8, levels);
  const withConditioning = cfg.with_conditioning ?? false;
  const crossAttentionDim = cfg.cross_attention_dim ?? undefined;
  if (withConditioning && crossAttentionDim === undefined) throw configError(net, 'with_conditioning=true needs cross_attention_dim');
  if (!withConditioning && crossAttentionDim !== undefined) throw configError(net, 'cross_attention_dim is set but with_conditioning is false');
  if (crossAttentionDim !== undefined) positiveInt(net, 'cross_attention_dim', crossAttentionDim);
  // Attention levels (and the middle block, which uses the last level's head size) need whole heads.
  const attnLevels = numChannels.map((_, i) => i).filter((i) => attentionLevels[i] || i === levels - 1);
  for (const i of attnLevels) {
    const hc = numHeadChannels[i];
    if (!Number.isInteger(hc) || hc <= 0 || numChannels[i] % hc !== 0) {
      throw configError(net, `num_head_channels[${i}]=${hc} must be a positive divisor of num_channels[${i}]=${numChannels[i]} (attention heads = channels / head channels)`);
    }
  }
  const normEps = cfg.norm_eps ?? 1e-6;
  if (!(normEps > 0)) throw configError(net, `norm_eps must be positive, got ${normEps}`);
  return {
    inChannels: positiveInt(net, 'in_channels', cfg.in_channels),
    numChannels,
    numResBlocks,
    attentionLevels,
    numHeadChannels,
    normGroups,
    normEps,
    withConditioning,
    crossAttentionDim,
    transformerNumLayers: positiveInt(net, 'transformer_num_layers', cfg.transformer_num_layers ?? 1),
  };
}

export function resolveDiffusionUNetConfig(cfg: DiffusionUNetConfig): ResolvedDiffusionUNetConfig {
  const net = 'diffusion_unet';
  checkKnownKeys(net, cfg, [...UNET_ENCODER_KEYS, 'out_channels']);
  return { ...resolveUNetEncoderConfig(net, cfg), outChannels: positiveInt(net, 'out_channels', cfg.out_channels) };
}

/**
 * conv_in, time_embed, down_blocks and middle_block: identical in the UNet and the ControlNet
 * (ControlNet initialisation copies exactly these tensors).
 */
export class UNetEncoder {
  readonly convIn: Convolution;
  readonly timeEmbed0: Linear;
  readonly timeEmbed2: Linear;
  readonly downBlocks: DownBlock[] = [];
  readonly middleBlock: MidBlock;
  readonly blockOptions: BlockOptions;

  /** `between` declares parameters that sit between time_embed and down_blocks in state_dict order (ControlNet's cond embedding). */
  constructor(
    root: Scope,
    readonly c: ResolvedUNetEncoderConfig,
    between?: () => void,
    beforeMiddle?: () => void,
  ) {
    const ch0 = c.numChannels[0];
    const tembDim = ch0 * 4;
    this.convIn = new Convolution(root.child('conv_in'), { inChannels: c.inChannels, outChannels: ch0, kernelSize: 3, padding: 1 });
    this.timeEmbed0 = new Linear(root.child('time_embed').child(0), ch0, tembDim);
    this.timeEmbed2 = new Linear(root.child('time_embed').child(2), tembDim, tembDim);
    between?.();
    this.blockOptions = { normGroups: c.normGroups, normEps: c.normEps, tembChannels: tembDim };
    let out = ch0;
    for (let i = 0; i < c.numChannels.length; i++) {
      const cin = out;
      out = c.numChannels[i];
      const last = i === c.numChannels.length - 1;
      this.downBlocks.push(
        new DownBlock(root.child('down_blocks').child(i), cin, out, c.numResBlocks[i], !last, this.blockOptions, c.attentionLevels[i] ? this.attention(i) : null),
      );
    }
    beforeMiddle?.();
    this.middleBlock = new MidBlock(root.child('middle_block'), out, this.blockOptions, this.attention(c.numChannels.length - 1));
  }

  attention(level: number): AttentionOptions {
    return {
      withConditioning: this.c.withConditioning,
      numHeadChannels: this.c.numHeadChannels[level],
      crossAttentionDim: this.c.crossAttentionDim,
      transformerNumLayers: this.c.transformerNumLayers,
    };
  }

  /** Time embedding MLP: Linear -> SiLU -> Linear on the sinusoidal embedding. [T,1] timesteps give [T, 4*ch0]. */
  embedTime(timesteps: tf.Tensor1D): tf.Tensor2D {
    const t = timestepEmbedding(timesteps, this.c.numChannels[0]);
    return this.timeEmbed2.apply(silu(this.timeEmbed0.apply(t)));
  }

  /** Runs the down path; `addToStem` (ControlNet's conditioning) is added after conv_in. */
  down(x: tf.Tensor4D, temb: tf.Tensor2D, context?: tf.Tensor3D, addToStem?: tf.Tensor4D): { h: tf.Tensor4D; skips: tf.Tensor4D[] } {
    let h = this.convIn.apply(x);
    if (addToStem) h = tf.add(h, addToStem);
    const skips: tf.Tensor4D[] = [h];
    for (const block of this.downBlocks) {
      const r = block.apply(h, temb, context);
      h = r.h;
      skips.push(...r.skips);
    }
    return { h, skips };
  }
}

export interface ControlResiduals {
  /** One per skip-stack entry (conv_in, every resnet, every downsampler), NHWC. */
  down: tf.Tensor4D[];
  mid: tf.Tensor4D;
}

export class DiffusionModelUNet extends Network {
  readonly config: ResolvedDiffusionUNetConfig;
  readonly encoder: UNetEncoder;
  private readonly upBlocks: UpBlock[] = [];
  private readonly outNorm: GroupNorm;
  private readonly outConv: Convolution;

  constructor(config: DiffusionUNetConfig) {
    super();
    this.config = resolveDiffusionUNetConfig(config);
    const c = this.config;
    this.encoder = new UNetEncoder(this.root, c);
    const rev = [...c.numChannels].reverse();
    const revRes = [...c.numResBlocks].reverse();
    const revAttn = [...c.attentionLevels].reverse();
    const levels = rev.length;
    let out = rev[0];
    for (let i = 0; i < levels; i++) {
      const prev = out;
      out = rev[i];
      const cin = rev[Math.min(i + 1, levels - 1)];
      this.upBlocks.push(
        new UpBlock(
          this.root.child('up_blocks').child(i),
          cin,
          prev,
          out,
          revRes[i] + 1,
          i !== levels - 1,
          this.encoder.blockOptions,
          revAttn[i] ? this.encoder.attention(levels - 1 - i) : null,
        ),
      );
    }
    this.outNorm = new GroupNorm(this.root.child('out').child(0), c.normGroups, c.numChannels[0], c.normEps);
    this.outConv = new Convolution(this.root.child('out').child(2), {
      inChannels: c.numChannels[0],
      outChannels: c.outChannels,
      kernelSize: 3,
      padding: 1,
      weightInit: ZEROS,
      biasInit: ZEROS,
    });
  }

  /** Number of skip-stack entries = number of ControlNet down residuals. */
  get numSkips(): number {
    return 1 + this.config.numResBlocks.reduce((a, b) => a + b, 0) + this.config.numChannels.length - 1;
  }

  /**
   * x NHWC [B,H,W,C]; timesteps [B] or [1] (broadcast); context [B,M,cross_attention_dim] when
   * with_conditioning. Optional ControlNet residuals are added to the skip stack and to the
   * middle-block output, as MONAI's down_block_additional_residuals / mid_block_additional_residual.
   */
  forward(x: tf.Tensor4D, timesteps: tf.Tensor1D, context?: tf.Tensor3D, residuals?: ControlResiduals): tf.Tensor4D {
    if (this.config.withConditioning && !context) throw new Error('diffusion_unet: this model has with_conditioning=true and needs a context tensor');
    const temb = this.encoder.embedTime(timesteps);
    let { h, skips } = this.encoder.down(x, temb, context);
    if (residuals) {
      if (residuals.down.length !== skips.length) {
        throw new Error(`diffusion_unet: got ${residuals.down.length} ControlNet down residuals, the network has ${skips.length} skip connections`);
      }
      skips = skips.map((s, i) => tf.add(s, residuals.down[i]));
    }
    h = this.encoder.middleBlock.apply(h, temb, context);
    if (residuals) h = tf.add(h, residuals.mid);
    for (const block of this.upBlocks) {
      const n = block.numResnets;
      const mine = skips.slice(skips.length - n);
      skips = skips.slice(0, skips.length - n);
      h = block.apply(h, mine, temb, context);
    }
    return this.outConv.apply(silu(this.outNorm.apply(h)));
  }
}

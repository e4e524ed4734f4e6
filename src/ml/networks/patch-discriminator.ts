import type * as tf from '@tensorflow/tfjs';
import { BatchNorm2d, Convolution, leakyRelu } from '../nn/layers';
import type { InitSpec } from '../nn/parameters';
import { checkKnownKeys, configError, positiveInt, requireSpatial2d } from './config';
import { Network } from './network';

/** MONAI GenerativeModels 0.2.2 PatchDiscriminator (2-D), NHWC activations. */
export interface PatchDiscriminatorConfig {
  spatial_dims: number;
  num_channels: number;
  in_channels: number;
  out_channels?: number;
  num_layers_d?: number;
  kernel_size?: number;
  activation?: unknown;
  norm?: unknown;
  bias?: boolean;
  padding?: number;
  dropout?: number;
  last_conv_kernel_size?: number;
}

export interface ResolvedPatchDiscriminatorConfig {
  inChannels: number;
  outChannels: number;
  numChannels: number;
  numLayers: number;
  kernelSize: number;
  padding: number;
  lastKernelSize: number;
}

const NET = 'patch_discriminator';
const KEYS = ['spatial_dims', 'num_channels', 'in_channels', 'out_channels', 'num_layers_d', 'kernel_size', 'activation', 'norm', 'bias', 'padding', 'dropout', 'last_conv_kernel_size'];

function isDefaultActivation(a: unknown): boolean {
  if (a === undefined) return true;
  return Array.isArray(a) && String(a[0]).toUpperCase() === 'LEAKYRELU' && (a[1] === undefined || (a[1] as { negative_slope?: number }).negative_slope === 0.2);
}

export function resolvePatchDiscriminatorConfig(cfg: PatchDiscriminatorConfig): ResolvedPatchDiscriminatorConfig {
  checkKnownKeys(NET, cfg, KEYS);
  requireSpatial2d(NET, cfg.spatial_dims);
  if (!isDefaultActivation(cfg.activation)) throw configError(NET, 'only the default activation (LEAKYRELU, negative_slope 0.2) is supported');
  if (cfg.norm !== undefined && String(cfg.norm).toUpperCase() !== 'BATCH') throw configError(NET, 'only norm "BATCH" is supported');
  if (cfg.bias !== undefined && cfg.bias !== false) throw configError(NET, 'bias must be false (the reference uses bias-free convs before BatchNorm)');
  if (cfg.dropout !== undefined && cfg.dropout !== 0) throw configError(NET, 'dropout must be 0');
  const kernelSize = positiveInt(NET, 'kernel_size', cfg.kernel_size ?? 4);
  const lastKernelSize = positiveInt(NET, 'last_conv_kernel_size', cfg.last_conv_kernel_size ?? 4);
  return {
    inChannels: positiveInt(NET, 'in_channels', cfg.in_channels),
    outChannels: positiveInt(NET, 'out_channels', cfg.out_channels ?? 1),
    numChannels: positiveInt(NET, 'num_channels', cfg.num_channels),
    numLayers: positiveInt(NET, 'num_layers_d', cfg.num_layers_d ?? 3),
    kernelSize,
    padding: cfg.padding ?? 1,
    lastKernelSize,
  };
}

// The reference re-initialises convs with N(0, 0.02) and BatchNorm weights with N(1, 0.02), bias 0.
const CONV_INIT: InitSpec = { kind: 'normal', mean: 0, std: 0.02 };
const BN_WEIGHT_INIT: InitSpec = { kind: 'normal', mean: 1, std: 0.02 };

interface Layer {
  conv: Convolution;
  norm: BatchNorm2d | null;
  act: boolean;
}

export class PatchDiscriminator extends Network {
  readonly config: ResolvedPatchDiscriminatorConfig;
  private readonly layers: Layer[] = [];

  constructor(config: PatchDiscriminatorConfig) {
    super();
    this.config = resolvePatchDiscriminatorConfig(config);
    const c = this.config;
    this.layers.push({
      conv: new Convolution(this.root.child('initial_conv'), {
        inChannels: c.inChannels,
        outChannels: c.numChannels,
        kernelSize: c.kernelSize,
        stride: 2,
        padding: c.padding,
        weightInit: CONV_INIT,
      }),
      norm: null,
      act: true,
    });
    let cin = c.numChannels;
    let cout = c.numChannels * 2;
    for (let l = 0; l < c.numLayers; l++) {
      const scope = this.root.child(l);
      const conv = new Convolution(scope, {
        inChannels: cin,
        outChannels: cout,
        kernelSize: c.kernelSize,
        stride: l === c.numLayers - 1 ? 1 : 2,
        padding: c.padding,
        bias: false,
        weightInit: CONV_INIT,
      });
      // MONAI's ADN block holds the norm as child "N": keys `<l>.adn.N.*`.
      const norm = new BatchNorm2d(scope.child('adn').child('N'), cout, 1e-5, 0.1, { weight: BN_WEIGHT_INIT });
      this.layers.push({ conv, norm, act: true });
      cin = cout;
      cout *= 2;
    }
    this.layers.push({
      conv: new Convolution(this.root.child('final_conv'), {
        inChannels: cin,
        outChannels: c.outChannels,
        kernelSize: c.lastKernelSize,
        padding: Math.floor((c.lastKernelSize - 1) / 2),
        weightInit: CONV_INIT,
        biasInit: { kind: 'uniform', bound: 1 / Math.sqrt(cin * c.lastKernelSize * c.lastKernelSize) },
      }),
      norm: null,
      act: false,
    });
  }

  /**
   * Every intermediate output, the logits last (NHWC). training=true normalises with batch
   * statistics and updates the BatchNorm running buffers (PyTorch train mode); false uses them.
   */
  forward(x: tf.Tensor4D, options: { training: boolean }): tf.Tensor4D[] {
    const outs: tf.Tensor4D[] = [];
    let h = x;
    for (const layer of this.layers) {
      h = layer.conv.apply(h);
      if (layer.norm) h = layer.norm.apply(h, options.training);
      if (layer.act) h = leakyRelu(h, 0.2);
      outs.push(h);
    }
    return outs;
  }
}

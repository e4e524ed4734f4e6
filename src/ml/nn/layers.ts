import * as tf from '@tensorflow/tfjs';
import type { InitSpec, Scope } from './parameters';

/**
 * Layers named like their MONAI/PyTorch counterparts. Activations are NHWC (tfjs convolutions are
 * NHWC); weights are fetched from the store at call time, so loading new weights never leaves a
 * layer holding stale tensors. Every op used here has a gradient on cpu, wasm and webgpu once the
 * engine's kernel fixes are registered.
 */

/** PyTorch's default (kaiming_uniform with a = sqrt(5)) for weights and biases: U(+-1/sqrt(fan_in)). */
export function torchDefaultInit(fanIn: number): InitSpec {
  return { kind: 'uniform', bound: 1 / Math.sqrt(fanIn) };
}

export const ZEROS: InitSpec = { kind: 'zeros' };
export const ONES: InitSpec = { kind: 'ones' };

export interface Conv2dOptions {
  inChannels: number;
  outChannels: number;
  kernelSize: number;
  stride?: number;
  padding?: number;
  bias?: boolean;
  /** Weight init; PyTorch default when omitted. */
  weightInit?: InitSpec;
  /** Bias init; PyTorch default when omitted. */
  biasInit?: InitSpec;
}

/** A bare nn.Conv2d: keys `<scope>.weight` [out,in,k,k] and `<scope>.bias`. */
export class Conv2d {
  readonly weight: string;
  readonly bias: string | null;
  private readonly stride: number;
  private readonly pad: 'valid' | 'same' | number;

  constructor(
    private readonly scope: Scope,
    readonly opts: Conv2dOptions,
  ) {
    const { inChannels, outChannels, kernelSize: k } = opts;
    const fanIn = inChannels * k * k;
    this.weight = scope.param('weight', [outChannels, inChannels, k, k], 'conv2d', opts.weightInit ?? torchDefaultInit(fanIn));
    this.bias = opts.bias === false ? null : scope.param('bias', [outChannels], 'plain', opts.biasInit ?? torchDefaultInit(fanIn));
    this.stride = opts.stride ?? 1;
    const p = opts.padding ?? 0;
    // 'same' with stride 1 and an odd kernel is exactly symmetric padding (k-1)/2.
    this.pad = p === 0 ? 'valid' : this.stride === 1 && k % 2 === 1 && p === (k - 1) / 2 ? 'same' : p;
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    const w = this.scope.store.get(this.weight) as tf.Tensor4D;
    const y = tf.conv2d(x, w, this.stride, this.pad);
    return this.bias ? tf.add(y, this.scope.store.get(this.bias)) : y;
  }
}

/** MONAI `Convolution(conv_only=True)`: a Sequential whose child `conv` is the Conv2d. */
export class Convolution extends Conv2d {
  constructor(scope: Scope, opts: Conv2dOptions) {
    super(scope.child('conv'), opts);
  }
}

export class Linear {
  readonly weight: string;
  readonly bias: string | null;

  constructor(
    private readonly scope: Scope,
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: { bias?: boolean; weightInit?: InitSpec; biasInit?: InitSpec } = {},
  ) {
    this.weight = scope.param('weight', [outFeatures, inFeatures], 'linear', opts.weightInit ?? torchDefaultInit(inFeatures));
    this.bias = opts.bias === false ? null : scope.param('bias', [outFeatures], 'plain', opts.biasInit ?? torchDefaultInit(inFeatures));
  }

  /** x [..., in] -> [..., out]. Higher ranks are flattened to 2-D first: tfjs's 3-D x 2-D broadcast matMul has a broken gradient. */
  apply<T extends tf.Tensor>(x: T): T {
    const shape = x.shape;
    const flat = shape.length === 2 ? (x as unknown as tf.Tensor2D) : tf.reshape(x, [-1, this.inFeatures]) as tf.Tensor2D;
    let y: tf.Tensor = tf.matMul(flat, this.scope.store.get(this.weight) as tf.Tensor2D);
    if (this.bias) y = tf.add(y, this.scope.store.get(this.bias));
    return (shape.length === 2 ? y : tf.reshape(y, [...shape.slice(0, -1), this.outFeatures])) as T;
  }
}

/** torch.nn.GroupNorm over NHWC activations (biased variance, as PyTorch). */
export class GroupNorm {
  readonly weight: string;
  readonly bias: string;

  constructor(
    private readonly scope: Scope,
    readonly numGroups: number,
    readonly numChannels: number,
    readonly eps = 1e-6,
  ) {
    if (numChannels % numGroups !== 0) {
      throw new Error(`${scope.prefix || 'GroupNorm'}: ${numChannels} channels are not divisible into ${numGroups} groups`);
    }
    this.weight = scope.param('weight', [numChannels], 'plain', ONES);
    this.bias = scope.param('bias', [numChannels], 'plain', ZEROS);
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    return groupNorm(x, this.scope.store.get(this.weight), this.scope.store.get(this.bias), this.numGroups, this.eps);
  }
}

/**
 * Normalisation with a per-channel affine and a hand-written gradient, shared by GroupNorm and
 * LayerNorm: x is viewed as `statsShape`, normalised over `statsAxes` (biased variance, as
 * PyTorch), then scaled/shifted along its last (channel) axis. Autodiff through moments() records
 * ~30 small kernels per call; this backward needs 12. On wasm, where per-kernel overhead is a large
 * share of a step, it made the desktop UNet train step ~30% faster. Equal to autodiff to float32
 * rounding (checked by the fixture gradient tests).
 */
function affineNormalize<T extends tf.Tensor>(x: T, gamma: tf.Tensor, beta: tf.Tensor, statsShape: number[], statsAxes: number[], eps: number): T {
  const shape = x.shape;
  const channelAxes = shape.slice(0, -1).map((_, i) => i);
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xIn, gammaIn, betaIn] = args as tf.Tensor[];
    const save = args[3] as tf.GradSaveFunc;
    const xs = tf.reshape(xIn, statsShape);
    const centered = tf.sub(xs, tf.mean(xs, statsAxes, true));
    const rstd = tf.rsqrt(tf.add(tf.mean(tf.square(centered), statsAxes, true), eps));
    const xhat = tf.mul(centered, rstd);
    save([xhat, rstd, gammaIn]);
    return {
      value: tf.add(tf.mul(tf.reshape(xhat, shape), gammaIn), betaIn),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xh, rs, gm] = saved;
        const dgamma = tf.sum(tf.mul(dy, tf.reshape(xh, shape)), channelAxes);
        const dbeta = tf.sum(dy, channelAxes);
        const dxhat = tf.reshape(tf.mul(dy, gm), statsShape);
        const dx = tf.mul(rs, tf.sub(tf.sub(dxhat, tf.mean(dxhat, statsAxes, true)), tf.mul(xh, tf.mean(tf.mul(dxhat, xh), statsAxes, true))));
        return [tf.reshape(dx, shape), dgamma, dbeta];
      },
    };
  });
  return op(x, gamma, beta) as T;
}

function groupNorm(x: tf.Tensor4D, gamma: tf.Tensor, beta: tf.Tensor, groups: number, eps: number): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  return affineNormalize(x, gamma, beta, [b, h * w, groups, c / groups], [1, 3], eps);
}

/** torch.nn.LayerNorm over the last axis (PyTorch default eps 1e-5). */
export class LayerNorm {
  readonly weight: string;
  readonly bias: string;

  constructor(
    private readonly scope: Scope,
    readonly dim: number,
    readonly eps = 1e-5,
  ) {
    this.weight = scope.param('weight', [dim], 'plain', ONES);
    this.bias = scope.param('bias', [dim], 'plain', ZEROS);
  }

  apply<T extends tf.Tensor>(x: T): T {
    const c = x.shape[x.shape.length - 1];
    return affineNormalize(x, this.scope.store.get(this.weight), this.scope.store.get(this.bias), [x.size / c, c], [1], this.eps);
  }
}

/**
 * torch.nn.BatchNorm2d (eps 1e-5, momentum 0.1). Training mode normalises with batch statistics
 * (biased variance) and updates the running buffers (unbiased variance) as PyTorch does; eval
 * mode uses the running buffers.
 */
export class BatchNorm2d {
  readonly weight: string;
  readonly bias: string;
  readonly runningMean: string;
  readonly runningVar: string;
  readonly numBatchesTracked: string;

  constructor(
    private readonly scope: Scope,
    readonly numFeatures: number,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
    init: { weight?: InitSpec; bias?: InitSpec } = {},
  ) {
    this.weight = scope.param('weight', [numFeatures], 'plain', init.weight ?? ONES);
    this.bias = scope.param('bias', [numFeatures], 'plain', init.bias ?? ZEROS);
    this.runningMean = scope.param('running_mean', [numFeatures], 'plain', ZEROS, 'buffer');
    this.runningVar = scope.param('running_var', [numFeatures], 'plain', ONES, 'buffer');
    this.numBatchesTracked = scope.param('num_batches_tracked', [], 'plain', ZEROS, 'buffer');
  }

  apply(x: tf.Tensor4D, training: boolean): tf.Tensor4D {
    const store = this.scope.store;
    const { mean, variance } = training ? tf.moments(x, [0, 1, 2]) : { mean: store.get(this.runningMean), variance: store.get(this.runningVar) };
    if (training) this.updateRunningStats(mean, variance, x.shape[0] * x.shape[1] * x.shape[2]);
    const normed = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, this.eps)));
    return tf.add(tf.mul(normed, store.get(this.weight)), store.get(this.bias));
  }

  /** Running statistics are state: assigned in place (unbiased variance, as PyTorch), never differentiated. */
  private updateRunningStats(batchMean: tf.Tensor, batchVariance: tf.Tensor, n: number): void {
    const store = this.scope.store;
    const m = this.momentum;
    tf.tidy(() => {
      const rm = store.get(this.runningMean);
      const rv = store.get(this.runningVar);
      const nb = store.get(this.numBatchesTracked);
      rm.assign(tf.add(tf.mul(rm, 1 - m), tf.mul(batchMean, m)));
      rv.assign(tf.add(tf.mul(rv, 1 - m), tf.mul(batchVariance, m * (n > 1 ? n / (n - 1) : 1))));
      nb.assign(tf.add(nb, 1));
    });
  }
}

export function silu<T extends tf.Tensor>(x: T): T {
  return tf.mul(x, tf.sigmoid(x));
}

/** Exact (erf) GELU, as torch.nn.functional.gelu's default. */
export function geluExact<T extends tf.Tensor>(x: T): T {
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1));
}

export function leakyRelu<T extends tf.Tensor>(x: T, alpha = 0.2): T {
  return tf.leakyRelu(x, alpha);
}

/**
 * Nearest-neighbour x2 upsampling (PyTorch mode="nearest"). On wasm, whose
 * ResizeNearestNeighborGrad is correct, the resize kernel is used (~2x faster forward+backward
 * than the composite). Elsewhere it is built from concat + reshape, whose gradient is a slice and
 * correct on every backend, unlike stock tfjs-cpu's ResizeNearestNeighborGrad for batch > 1.
 */
export function upsampleNearest2x(x: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  if (tf.getBackend() === 'wasm') return tf.image.resizeNearestNeighbor(x, [h * 2, w * 2]);
  const wide = tf.reshape(tf.concat([x, x], 3), [b, h, w * 2, c]);
  return tf.reshape(tf.concat([wide, wide], 2), [b, h * 2, w * 2, c]);
}

/** Zero padding on the bottom and right only (F.pad(x, (0, 1, 0, 1))), used by the AE Downsample. */
export function padBottomRight(x: tf.Tensor4D, amount = 1): tf.Tensor4D {
  return tf.pad(x, [
    [0, 0],
    [0, amount],
    [0, amount],
    [0, 0],
  ]);
}

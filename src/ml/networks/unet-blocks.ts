import * as tf from '@tensorflow/tfjs';
import { AttentionBlock, SpatialTransformer } from '../nn/attention';
import { Convolution, GroupNorm, Linear, silu, upsampleNearest2x, ZEROS } from '../nn/layers';
import type { Scope } from '../nn/parameters';

/**
 * Building blocks of MONAI GenerativeModels 0.2.2 DiffusionModelUNet, shared with ControlNet.
 * Activations NHWC; the time embedding is [B or 1, temb_channels].
 */

/**
 * Sinusoidal timestep embedding, cosine half first: emb = [cos(t f), sin(t f)],
 * f_i = exp(-ln(10000) i / half). Frequencies are rounded to float32 step by step as torch does,
 * so large t (up to 999) match the reference to float32 rounding.
 */
export function timestepEmbedding(timesteps: tf.Tensor1D, dim: number, maxPeriod = 10000): tf.Tensor2D {
  const half = Math.floor(dim / 2);
  const freqs = new Float32Array(half);
  const lnMax = Math.fround(-Math.log(maxPeriod));
  for (let i = 0; i < half; i++) freqs[i] = Math.fround(Math.exp(Math.fround(Math.fround(lnMax * i) / half)));
  return tf.tidy(() => {
    const args = tf.mul(tf.reshape(tf.cast(timesteps, 'float32'), [-1, 1]), tf.tensor2d(freqs, [1, half]));
    let emb = tf.concat([tf.cos(args), tf.sin(args)], 1);
    if (dim % 2 === 1) emb = tf.pad(emb, [[0, 0], [0, 1]]);
    return emb as tf.Tensor2D;
  });
}

export interface BlockOptions {
  normGroups: number;
  normEps: number;
  tembChannels: number;
}

/** MONAI ResnetBlock: GN-SiLU-conv3, + time projection, GN-SiLU-conv3 (zero init), + skip (1x1 when channels change). */
export class ResnetBlock {
  private readonly norm1: GroupNorm;
  private readonly conv1: Convolution;
  private readonly timeEmbProj: Linear;
  private readonly norm2: GroupNorm;
  private readonly conv2: Convolution;
  private readonly skip: Convolution | null;

  constructor(scope: Scope, cin: number, cout: number, o: BlockOptions) {
    this.norm1 = new GroupNorm(scope.child('norm1'), o.normGroups, cin, o.normEps);
    this.conv1 = new Convolution(scope.child('conv1'), { inChannels: cin, outChannels: cout, kernelSize: 3, padding: 1 });
    this.timeEmbProj = new Linear(scope.child('time_emb_proj'), o.tembChannels, cout);
    this.norm2 = new GroupNorm(scope.child('norm2'), o.normGroups, cout, o.normEps);
    this.conv2 = new Convolution(scope.child('conv2'), { inChannels: cout, outChannels: cout, kernelSize: 3, padding: 1, weightInit: ZEROS, biasInit: ZEROS });
    this.skip = cin !== cout ? new Convolution(scope.child('skip_connection'), { inChannels: cin, outChannels: cout, kernelSize: 1 }) : null;
  }

  apply(x: tf.Tensor4D, temb: tf.Tensor2D): tf.Tensor4D {
    let h = this.conv1.apply(silu(this.norm1.apply(x)));
    const t = this.timeEmbProj.apply(silu(temb));
    h = tf.add(h, tf.reshape(t, [t.shape[0], 1, 1, t.shape[1]]));
    h = this.conv2.apply(silu(this.norm2.apply(h)));
    return tf.add(this.skip ? this.skip.apply(x) : x, h);
  }
}

export interface AttentionOptions {
  /** Cross-attention SpatialTransformer (with_conditioning) or plain self-attention AttentionBlock. */
  withConditioning: boolean;
  numHeadChannels: number;
  crossAttentionDim?: number;
  transformerNumLayers: number;
}

type Attn = { apply(x: tf.Tensor4D, context?: tf.Tensor3D): tf.Tensor4D };

function makeAttention(scope: Scope, channels: number, o: BlockOptions, a: AttentionOptions): Attn {
  if (a.withConditioning) {
    return new SpatialTransformer(scope, {
      channels,
      heads: channels / a.numHeadChannels,
      headDim: a.numHeadChannels,
      normGroups: o.normGroups,
      normEps: o.normEps,
      crossAttentionDim: a.crossAttentionDim,
      numLayers: a.transformerNumLayers,
    });
  }
  const block = new AttentionBlock(scope, channels, o.normGroups, o.normEps, a.numHeadChannels);
  return { apply: (x) => block.apply(x) };
}

/** Down (or cross-attention down) block: num_res_blocks x (Res [+ attention]), then optional stride-2 conv. */
export class DownBlock {
  private readonly attentions: Attn[] = [];
  private readonly resnets: ResnetBlock[] = [];
  private readonly downsampler: Convolution | null;

  constructor(scope: Scope, cin: number, cout: number, numResBlocks: number, addDownsample: boolean, o: BlockOptions, attn: AttentionOptions | null) {
    // MONAI creates `attentions` before `resnets`: keep that order so state_dict order matches.
    if (attn) for (let i = 0; i < numResBlocks; i++) this.attentions.push(makeAttention(scope.child('attentions').child(i), cout, o, attn));
    for (let i = 0; i < numResBlocks; i++) this.resnets.push(new ResnetBlock(scope.child('resnets').child(i), i === 0 ? cin : cout, cout, o));
    this.downsampler = addDownsample
      ? new Convolution(scope.child('downsampler').child('op'), { inChannels: cout, outChannels: cout, kernelSize: 3, stride: 2, padding: 1 })
      : null;
  }

  /** Returns the block output and the skip tensors it pushes (one per resnet, plus the downsampled one). */
  apply(x: tf.Tensor4D, temb: tf.Tensor2D, context?: tf.Tensor3D): { h: tf.Tensor4D; skips: tf.Tensor4D[] } {
    const skips: tf.Tensor4D[] = [];
    let h = x;
    for (let i = 0; i < this.resnets.length; i++) {
      h = this.resnets[i].apply(h, temb);
      if (this.attentions.length > 0) h = this.attentions[i].apply(h, context);
      skips.push(h);
    }
    if (this.downsampler) {
      h = this.downsampler.apply(h);
      skips.push(h);
    }
    return { h, skips };
  }
}

/** Middle block: Res -> attention -> Res (keys resnet_1, attention, resnet_2). */
export class MidBlock {
  private readonly resnet1: ResnetBlock;
  private readonly attention: Attn;
  private readonly resnet2: ResnetBlock;

  constructor(scope: Scope, channels: number, o: BlockOptions, attn: AttentionOptions) {
    this.resnet1 = new ResnetBlock(scope.child('resnet_1'), channels, channels, o);
    this.attention = makeAttention(scope.child('attention'), channels, o, attn);
    this.resnet2 = new ResnetBlock(scope.child('resnet_2'), channels, channels, o);
  }

  apply(x: tf.Tensor4D, temb: tf.Tensor2D, context?: tf.Tensor3D): tf.Tensor4D {
    return this.resnet2.apply(this.attention.apply(this.resnet1.apply(x, temb), context), temb);
  }
}

/** Up block: (num_res_blocks + 1) x (concat skip, Res [+ attention]), then optional nearest x2 + conv. */
export class UpBlock {
  private readonly attentions: Attn[] = [];
  private readonly resnets: ResnetBlock[] = [];
  private readonly upsampler: Convolution | null;

  constructor(
    scope: Scope,
    cin: number,
    prevOut: number,
    cout: number,
    numResBlocks: number,
    addUpsample: boolean,
    o: BlockOptions,
    attn: AttentionOptions | null,
  ) {
    if (attn) for (let i = 0; i < numResBlocks; i++) this.attentions.push(makeAttention(scope.child('attentions').child(i), cout, o, attn));
    for (let i = 0; i < numResBlocks; i++) {
      const resSkip = i === numResBlocks - 1 ? cin : cout;
      const resIn = i === 0 ? prevOut : cout;
      this.resnets.push(new ResnetBlock(scope.child('resnets').child(i), resIn + resSkip, cout, o));
    }
    this.upsampler = addUpsample ? new Convolution(scope.child('upsampler').child('conv'), { inChannels: cout, outChannels: cout, kernelSize: 3, padding: 1 }) : null;
  }

  get numResnets(): number {
    return this.resnets.length;
  }

  /** `skips` are this block's entries of the skip stack, consumed last-first. */
  apply(x: tf.Tensor4D, skips: tf.Tensor4D[], temb: tf.Tensor2D, context?: tf.Tensor3D): tf.Tensor4D {
    const stack = [...skips];
    let h = x;
    for (let i = 0; i < this.resnets.length; i++) {
      const skip = stack.pop();
      if (!skip) throw new Error('UpBlock: skip stack exhausted');
      h = this.resnets[i].apply(tf.concat([h, skip], 3), temb);
      if (this.attentions.length > 0) h = this.attentions[i].apply(h, context);
    }
    if (this.upsampler) h = this.upsampler.apply(upsampleNearest2x(h));
    return h;
  }
}

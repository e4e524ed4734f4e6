import * as tf from '@tensorflow/tfjs';
import { Convolution, GroupNorm, LayerNorm, Linear, geluExact, ZEROS } from './layers';
import type { Scope } from './parameters';

/**
 * Attention blocks of MONAI GenerativeModels 0.2.2 (diffusion_model_unet.py), NHWC outside and
 * tokens [B, H*W, C] in row-major (h, w) order inside, exactly as MONAI's permute+reshape.
 * No einsum (tfjs has no einsum gradient); batched matMuls are 3-D x 3-D.
 */

/** softmax(q k^T * scale) v over `heads` heads; q [B,N,heads*d], k/v [B,M,heads*d]. */
export function multiHeadAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, heads: number, headDim: number): tf.Tensor3D {
  const [b, n] = q.shape;
  const m = k.shape[1];
  const split = (t: tf.Tensor3D, len: number): tf.Tensor3D =>
    heads === 1 ? t : (tf.reshape(tf.transpose(tf.reshape(t, [b, len, heads, headDim]), [0, 2, 1, 3]), [b * heads, len, headDim]) as tf.Tensor3D);
  const qh = split(q, n);
  const kh = split(k, m);
  const vh = split(v, m);
  const scores = tf.mul(tf.matMul(qh, kh, false, true), 1 / Math.sqrt(headDim));
  const out = tf.matMul(tf.softmax(scores), vh) as tf.Tensor3D;
  if (heads === 1) return out;
  return tf.reshape(tf.transpose(tf.reshape(out, [b, heads, n, headDim]), [0, 2, 1, 3]), [b, n, heads * headDim]);
}

/** MONAI CrossAttention: to_q/to_k/to_v without bias, to_out.0 with bias (to_out.1 is Dropout(0)). */
export class CrossAttention {
  private readonly toQ: Linear;
  private readonly toK: Linear;
  private readonly toV: Linear;
  private readonly toOut: Linear;

  constructor(
    scope: Scope,
    queryDim: number,
    readonly heads: number,
    readonly headDim: number,
    crossAttentionDim?: number,
  ) {
    const inner = heads * headDim;
    const kvDim = crossAttentionDim ?? queryDim;
    this.toQ = new Linear(scope.child('to_q'), queryDim, inner, { bias: false });
    this.toK = new Linear(scope.child('to_k'), kvDim, inner, { bias: false });
    this.toV = new Linear(scope.child('to_v'), kvDim, inner, { bias: false });
    this.toOut = new Linear(scope.child('to_out').child(0), inner, queryDim);
  }

  apply(x: tf.Tensor3D, context?: tf.Tensor3D): tf.Tensor3D {
    const ctx = context ?? x;
    const out = multiHeadAttention(this.toQ.apply(x), this.toK.apply(ctx), this.toV.apply(ctx), this.heads, this.headDim);
    return this.toOut.apply(out);
  }
}

/** MONAI MLPBlock with act="GEGLU": linear1 C->8C, split (value, gate), value * GELU(gate), linear2 4C->C. */
export class GegluFeedForward {
  private readonly linear1: Linear;
  private readonly linear2: Linear;

  constructor(
    scope: Scope,
    readonly dim: number,
    readonly mult = 4,
  ) {
    this.linear1 = new Linear(scope.child('linear1'), dim, dim * mult * 2);
    this.linear2 = new Linear(scope.child('linear2'), dim * mult, dim);
  }

  apply(x: tf.Tensor3D): tf.Tensor3D {
    const h = this.linear1.apply(x);
    const [value, gate] = tf.split(h, 2, -1) as [tf.Tensor3D, tf.Tensor3D];
    return this.linear2.apply(tf.mul(value, geluExact(gate)));
  }
}

/** MONAI BasicTransformerBlock; declaration order attn1, ff, attn2, norm1..3 matches the state_dict. */
export class BasicTransformerBlock {
  private readonly attn1: CrossAttention;
  private readonly ff: GegluFeedForward;
  private readonly attn2: CrossAttention;
  private readonly norm1: LayerNorm;
  private readonly norm2: LayerNorm;
  private readonly norm3: LayerNorm;

  constructor(scope: Scope, dim: number, heads: number, headDim: number, crossAttentionDim?: number) {
    this.attn1 = new CrossAttention(scope.child('attn1'), dim, heads, headDim);
    this.ff = new GegluFeedForward(scope.child('ff'), dim);
    this.attn2 = new CrossAttention(scope.child('attn2'), dim, heads, headDim, crossAttentionDim);
    this.norm1 = new LayerNorm(scope.child('norm1'), dim);
    this.norm2 = new LayerNorm(scope.child('norm2'), dim);
    this.norm3 = new LayerNorm(scope.child('norm3'), dim);
  }

  apply(x: tf.Tensor3D, context?: tf.Tensor3D): tf.Tensor3D {
    let h: tf.Tensor3D = tf.add(this.attn1.apply(this.norm1.apply(x)), x);
    h = tf.add(this.attn2.apply(this.norm2.apply(h), context), h);
    return tf.add(this.ff.apply(this.norm3.apply(h)), h);
  }
}

export interface SpatialTransformerOptions {
  channels: number;
  heads: number;
  headDim: number;
  normGroups: number;
  normEps: number;
  crossAttentionDim?: number;
  numLayers?: number;
}

/** MONAI SpatialTransformer: GN -> proj_in 1x1 -> transformer blocks over tokens -> proj_out 1x1 (zero init) -> + x. */
export class SpatialTransformer {
  private readonly norm: GroupNorm;
  private readonly projIn: Convolution;
  private readonly blocks: BasicTransformerBlock[] = [];
  private readonly projOut: Convolution;
  private readonly inner: number;

  constructor(scope: Scope, o: SpatialTransformerOptions) {
    this.inner = o.heads * o.headDim;
    this.norm = new GroupNorm(scope.child('norm'), o.normGroups, o.channels, o.normEps);
    this.projIn = new Convolution(scope.child('proj_in'), { inChannels: o.channels, outChannels: this.inner, kernelSize: 1 });
    for (let i = 0; i < (o.numLayers ?? 1); i++) {
      this.blocks.push(new BasicTransformerBlock(scope.child('transformer_blocks').child(i), this.inner, o.heads, o.headDim, o.crossAttentionDim));
    }
    this.projOut = new Convolution(scope.child('proj_out'), {
      inChannels: this.inner,
      outChannels: o.channels,
      kernelSize: 1,
      weightInit: ZEROS,
      biasInit: ZEROS,
    });
  }

  apply(x: tf.Tensor4D, context?: tf.Tensor3D): tf.Tensor4D {
    const [b, h, w] = x.shape;
    let t = tf.reshape(this.projIn.apply(this.norm.apply(x)), [b, h * w, this.inner]) as tf.Tensor3D;
    for (const block of this.blocks) t = block.apply(t, context);
    return tf.add(this.projOut.apply(tf.reshape(t, [b, h, w, this.inner])), x);
  }
}

/**
 * MONAI AttentionBlock (self-attention without conditioning): GN -> q/k/v Linear with bias ->
 * attention -> + x. In 0.2.2 `proj_attn` is created but never applied, so it is declared (its
 * keys exist in state_dicts) and ignored in the forward pass, as the reference does.
 */
export class AttentionBlock {
  private readonly norm: GroupNorm;
  private readonly toQ: Linear;
  private readonly toK: Linear;
  private readonly toV: Linear;
  readonly heads: number;

  constructor(scope: Scope, readonly channels: number, normGroups: number, normEps: number, numHeadChannels?: number) {
    this.heads = numHeadChannels ? channels / numHeadChannels : 1;
    this.norm = new GroupNorm(scope.child('norm'), normGroups, channels, normEps);
    this.toQ = new Linear(scope.child('to_q'), channels, channels);
    this.toK = new Linear(scope.child('to_k'), channels, channels);
    this.toV = new Linear(scope.child('to_v'), channels, channels);
    new Linear(scope.child('proj_attn'), channels, channels);
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    const [b, h, w, c] = x.shape;
    const t = tf.reshape(this.norm.apply(x), [b, h * w, c]) as tf.Tensor3D;
    const out = multiHeadAttention(this.toQ.apply(t), this.toK.apply(t), this.toV.apply(t), this.heads, c / this.heads);
    return tf.add(tf.reshape(out, [b, h, w, c]), x);
  }
}

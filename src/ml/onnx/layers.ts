import { attr, type OnnxGraph } from './graph';

/**
 * ONNX emitters for the layers of src/ml/nn, one function per layer class, reading the same
 * state_dict names. Activations are NCHW (ONNX's convolution layout, and the layout MONAI's
 * weights are stored in); tokens are [B, N, C] as in the tfjs attention.
 */

export interface ConvSpec {
  kernel: number;
  stride?: number;
  /** Symmetric padding, or [top, left, bottom, right]. */
  padding?: number | [number, number, number, number];
  bias?: boolean;
}

/** nn.Conv2d at `prefix` (weight [out,in,k,k], bias [out]). */
export function conv2d(g: OnnxGraph, prefix: string, x: string, s: ConvSpec): string {
  const w = g.weight(`${prefix}.weight`);
  const inputs = [x, w];
  if (s.bias !== false) inputs.push(g.weight(`${prefix}.bias`));
  const p = s.padding ?? 0;
  const pads = typeof p === 'number' ? [p, p, p, p] : [p[0], p[1], p[2], p[3]];
  return g.node('Conv', inputs, {
    kernel_shape: attr.ints([s.kernel, s.kernel]),
    strides: attr.ints([s.stride ?? 1, s.stride ?? 1]),
    pads: attr.ints(pads),
  });
}

/** MONAI Convolution(conv_only): the Conv2d sits at `<prefix>.conv`. */
export function convolution(g: OnnxGraph, prefix: string, x: string, s: ConvSpec): string {
  return conv2d(g, `${prefix}.conv`, x, s);
}

/**
 * nn.Linear on [..., in]: Gemm with transB keeps the weight in PyTorch's [out, in] layout.
 * Rank-3 inputs ([B, N, in] tokens) use MatMul with the transposed weight (folded at load).
 */
export function linear(g: OnnxGraph, prefix: string, x: string, outFeatures: number, opts: { bias?: boolean; rank?: number } = {}): string {
  const [out] = g.weightShape(`${prefix}.weight`);
  if (out !== outFeatures) throw new Error(`linear ${prefix}: weight has ${out} output features, the network expects ${outFeatures}`);
  const w = g.weight(`${prefix}.weight`);
  const inputs = [x, w];
  if (opts.bias !== false) inputs.push(g.weight(`${prefix}.bias`, [outFeatures]));
  const rank = opts.rank ?? 2;
  if (rank === 2) return g.node('Gemm', inputs, { transB: attr.int(1) });
  if (rank !== 3) throw new Error(`linear ${prefix}: rank ${rank} inputs are not supported`);
  // MatMul against the transposed weight handles [B, N, in] directly (no flatten/restore).
  const wt = g.node('Transpose', [w], { perm: attr.ints([1, 0]) });
  const y = g.node('MatMul', [x, wt]);
  return opts.bias !== false ? g.node('Add', [y, inputs[2]]) : y;
}

/** torch GroupNorm on NCHW: per-group statistics via InstanceNormalization over [B, G, rest]. */
export function groupNorm(g: OnnxGraph, prefix: string, x: string, groups: number, channels: number, eps: number): string {
  const grouped = g.node('Reshape', [x, g.constI64([0, groups, -1])]);
  const normed = g.node('InstanceNormalization', [grouped, g.constF(new Array(groups).fill(1)), g.constF(new Array(groups).fill(0))], { epsilon: attr.float(eps) });
  const back = g.node('Reshape', [normed, g.node('Shape', [x])]);
  const gamma = g.node('Reshape', [g.weight(`${prefix}.weight`, [channels]), g.constI64([channels, 1, 1])]);
  const beta = g.node('Reshape', [g.weight(`${prefix}.bias`, [channels]), g.constI64([channels, 1, 1])]);
  return g.node('Add', [g.node('Mul', [back, gamma]), beta]);
}

/** torch LayerNorm over the last axis. */
export function layerNorm(g: OnnxGraph, prefix: string, x: string, dim: number, eps = 1e-5): string {
  return g.node('LayerNormalization', [x, g.weight(`${prefix}.weight`, [dim]), g.weight(`${prefix}.bias`, [dim])], { axis: attr.int(-1), epsilon: attr.float(eps) });
}

export function silu(g: OnnxGraph, x: string): string {
  return g.node('Mul', [x, g.node('Sigmoid', [x])]);
}

/** Exact (erf) GELU: x * 0.5 * (1 + erf(x / sqrt 2)). */
export function geluExact(g: OnnxGraph, x: string): string {
  const inner = g.node('Erf', [g.node('Mul', [x, g.constF([Math.SQRT1_2], [])])]);
  return g.node('Mul', [g.node('Mul', [x, g.constF([0.5], [])]), g.node('Add', [inner, g.constF([1], [])])]);
}

/** Nearest x2 (PyTorch mode="nearest"): asymmetric coordinates with floor pick each source pixel twice. */
export function upsampleNearest2x(g: OnnxGraph, x: string): string {
  return g.node('Resize', [x, '', g.constF([1, 1, 2, 2])], {
    mode: attr.string('nearest'),
    coordinate_transformation_mode: attr.string('asymmetric'),
    nearest_mode: attr.string('floor'),
  });
}

/** NCHW [B, C, H, W] -> tokens [B, H*W, C] in row-major (h, w) order. */
export function toTokens(g: OnnxGraph, x: string): string {
  return g.node('Transpose', [g.node('Reshape', [x, g.constI64([0, 0, -1])])], { perm: attr.ints([0, 2, 1]) });
}

/** Tokens [B, H*W, C] -> NCHW with `like`'s batch and spatial size and `channels` channels. */
export function fromTokens(g: OnnxGraph, t: string, like: string, channels: number): string {
  const shape = g.node('Shape', [like]);
  const b = g.node('Slice', [shape, g.constI64([0]), g.constI64([1])]);
  const hw = g.node('Slice', [shape, g.constI64([2]), g.constI64([4])]);
  const target = g.node('Concat', [b, g.constI64([channels]), hw], { axis: attr.int(0) });
  return g.node('Reshape', [g.node('Transpose', [t], { perm: attr.ints([0, 2, 1]) }), target]);
}

/** softmax(q k^T / sqrt(d)) v over `heads` heads; q [B,N,heads*d], k/v [B,M,heads*d]. */
export function multiHeadAttention(g: OnnxGraph, q: string, k: string, v: string, heads: number, headDim: number): string {
  const split = (t: string, perm: number[]) => g.node('Transpose', [g.node('Reshape', [t, g.constI64([0, 0, heads, headDim])])], { perm: attr.ints(perm) });
  const qh = split(q, [0, 2, 1, 3]);
  const khT = split(k, [0, 2, 3, 1]);
  const vh = split(v, [0, 2, 1, 3]);
  const scores = g.node('Mul', [g.node('MatMul', [qh, khT]), g.constF([1 / Math.sqrt(headDim)], [])]);
  const out = g.node('MatMul', [g.node('Softmax', [scores], { axis: attr.int(-1) }), vh]);
  return g.node('Reshape', [g.node('Transpose', [out], { perm: attr.ints([0, 2, 1, 3]) }), g.constI64([0, 0, heads * headDim])]);
}

/** MONAI CrossAttention (to_q/k/v without bias, to_out.0 with bias); self-attention when context is omitted. */
export function crossAttention(g: OnnxGraph, prefix: string, x: string, queryDim: number, heads: number, headDim: number, context?: string): string {
  const inner = heads * headDim;
  const ctx = context ?? x;
  const q = linear(g, `${prefix}.to_q`, x, inner, { bias: false, rank: 3 });
  const k = linear(g, `${prefix}.to_k`, ctx, inner, { bias: false, rank: 3 });
  const v = linear(g, `${prefix}.to_v`, ctx, inner, { bias: false, rank: 3 });
  return linear(g, `${prefix}.to_out.0`, multiHeadAttention(g, q, k, v, heads, headDim), queryDim, { rank: 3 });
}

/** MONAI MLPBlock with GEGLU: linear1 C->8C, value * GELU(gate), linear2 4C->C. */
export function gegluFeedForward(g: OnnxGraph, prefix: string, x: string, dim: number, mult = 4): string {
  const h = linear(g, `${prefix}.linear1`, x, dim * mult * 2, { rank: 3 });
  const [value, gate] = g.nodeMulti('Split', [h, g.constI64([dim * mult, dim * mult])], 2, { axis: attr.int(-1) });
  return linear(g, `${prefix}.linear2`, g.node('Mul', [value, geluExact(g, gate)]), dim, { rank: 3 });
}

export function basicTransformerBlock(g: OnnxGraph, prefix: string, x: string, dim: number, heads: number, headDim: number, context?: string): string {
  let h = g.node('Add', [crossAttention(g, `${prefix}.attn1`, layerNorm(g, `${prefix}.norm1`, x, dim), dim, heads, headDim), x]);
  h = g.node('Add', [crossAttention(g, `${prefix}.attn2`, layerNorm(g, `${prefix}.norm2`, h, dim), dim, heads, headDim, context), h]);
  return g.node('Add', [gegluFeedForward(g, `${prefix}.ff`, layerNorm(g, `${prefix}.norm3`, h, dim), dim), h]);
}

export interface SpatialTransformerSpec {
  channels: number;
  heads: number;
  headDim: number;
  normGroups: number;
  normEps: number;
  numLayers: number;
}

/** MONAI SpatialTransformer: GN -> proj_in 1x1 -> transformer blocks -> proj_out 1x1 -> + x. */
export function spatialTransformer(g: OnnxGraph, prefix: string, x: string, s: SpatialTransformerSpec, context?: string): string {
  const inner = s.heads * s.headDim;
  const projIn = convolution(g, `${prefix}.proj_in`, groupNorm(g, `${prefix}.norm`, x, s.normGroups, s.channels, s.normEps), { kernel: 1 });
  let t = toTokens(g, projIn);
  for (let i = 0; i < s.numLayers; i++) t = basicTransformerBlock(g, `${prefix}.transformer_blocks.${i}`, t, inner, s.heads, s.headDim, context);
  return g.node('Add', [convolution(g, `${prefix}.proj_out`, fromTokens(g, t, x, inner), { kernel: 1 }), x]);
}

/** MONAI AttentionBlock: GN -> q/k/v with bias -> attention -> + x (proj_attn unused, as in the reference). */
export function attentionBlock(g: OnnxGraph, prefix: string, x: string, channels: number, normGroups: number, normEps: number, numHeadChannels?: number): string {
  const heads = numHeadChannels ? channels / numHeadChannels : 1;
  const t = toTokens(g, groupNorm(g, `${prefix}.norm`, x, normGroups, channels, normEps));
  const q = linear(g, `${prefix}.to_q`, t, channels, { rank: 3 });
  const k = linear(g, `${prefix}.to_k`, t, channels, { rank: 3 });
  const v = linear(g, `${prefix}.to_v`, t, channels, { rank: 3 });
  const out = multiHeadAttention(g, q, k, v, heads, channels / heads);
  return g.node('Add', [fromTokens(g, out, x, channels), x]);
}

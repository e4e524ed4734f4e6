import type { ResolvedControlNetConfig } from '../networks/controlnet';
import type { ResolvedDiffusionUNetConfig, ResolvedUNetEncoderConfig } from '../networks/diffusion-unet';
import { attr, type OnnxGraph } from './graph';
import { attentionBlock, conv2d, convolution, groupNorm, linear, silu, spatialTransformer, upsampleNearest2x } from './layers';

/**
 * ONNX emitters for MONAI's DiffusionModelUNet and ControlNet, following
 * src/ml/networks/{unet-blocks,diffusion-unet,controlnet}.ts block by block. Weights are read
 * under the same state_dict names; `prefix` ('' for a standalone network) lets one graph hold
 * both networks (the fused controlled UNet).
 */

const p = (prefix: string, name: string): string => (prefix ? `${prefix}.${name}` : name);

/** Sinusoidal embedding [cos(t f), sin(t f)] of float timesteps [T] -> [T, dim], f rounded to float32 as torch does. */
function timestepEmbedding(g: OnnxGraph, t: string, dim: number, maxPeriod = 10000): string {
  if (dim % 2 !== 0) throw new Error(`timestep embedding: odd dimension ${dim} is not supported`);
  const half = dim / 2;
  const freqs = new Float32Array(half);
  const lnMax = Math.fround(-Math.log(maxPeriod));
  for (let i = 0; i < half; i++) freqs[i] = Math.fround(Math.exp(Math.fround(Math.fround(lnMax * i) / half)));
  const args = g.node('Mul', [g.node('Unsqueeze', [t, g.constI64([1])]), g.constF(freqs, [1, half])]);
  return g.node('Concat', [g.node('Cos', [args]), g.node('Sin', [args])], { axis: attr.int(1) });
}

interface Ctx {
  g: OnnxGraph;
  c: ResolvedUNetEncoderConfig;
  temb: string;
  context?: string;
}

function resnetBlock(k: Ctx, prefix: string, x: string, cin: number, cout: number): string {
  const { g, c } = k;
  let h = convolution(g, `${prefix}.conv1`, silu(g, groupNorm(g, `${prefix}.norm1`, x, c.normGroups, cin, c.normEps)), { kernel: 3, padding: 1 });
  const t = linear(g, `${prefix}.time_emb_proj`, silu(g, k.temb), cout);
  h = g.node('Add', [h, g.node('Unsqueeze', [t, g.constI64([2, 3])])]);
  h = convolution(g, `${prefix}.conv2`, silu(g, groupNorm(g, `${prefix}.norm2`, h, c.normGroups, cout, c.normEps)), { kernel: 3, padding: 1 });
  const skip = cin !== cout ? convolution(g, `${prefix}.skip_connection`, x, { kernel: 1 }) : x;
  return g.node('Add', [skip, h]);
}

function attention(k: Ctx, prefix: string, x: string, channels: number, level: number): string {
  const { g, c } = k;
  const hc = c.numHeadChannels[level];
  if (c.withConditioning) {
    return spatialTransformer(
      g,
      prefix,
      x,
      { channels, heads: channels / hc, headDim: hc, normGroups: c.normGroups, normEps: c.normEps, numLayers: c.transformerNumLayers },
      k.context,
    );
  }
  return attentionBlock(g, prefix, x, channels, c.normGroups, c.normEps, hc);
}

function middleBlock(k: Ctx, prefix: string, x: string): string {
  const levels = k.c.numChannels.length;
  const ch = k.c.numChannels[levels - 1];
  let h = resnetBlock(k, `${prefix}.resnet_1`, x, ch, ch);
  h = attention(k, `${prefix}.attention`, h, ch, levels - 1);
  return resnetBlock(k, `${prefix}.resnet_2`, h, ch, ch);
}

/** Time MLP, conv_in (+ stem addition), down blocks; returns the deepest features and the skip stack. */
function encoder(k: Ctx, prefix: string, x: string, timesteps: string, addToStem?: (h: string) => string): { h: string; skips: string[]; temb: string } {
  const { g, c } = k;
  const ch0 = c.numChannels[0];
  const t = timestepEmbedding(g, timesteps, ch0);
  k.temb = linear(g, p(prefix, 'time_embed.2'), silu(g, linear(g, p(prefix, 'time_embed.0'), t, ch0 * 4)), ch0 * 4);
  let h = convolution(g, p(prefix, 'conv_in'), x, { kernel: 3, padding: 1 });
  if (addToStem) h = addToStem(h);
  const skips = [h];
  let out = ch0;
  for (let i = 0; i < c.numChannels.length; i++) {
    const bp = p(prefix, `down_blocks.${i}`);
    let cin = out;
    out = c.numChannels[i];
    for (let r = 0; r < c.numResBlocks[i]; r++) {
      h = resnetBlock(k, `${bp}.resnets.${r}`, h, cin, out);
      cin = out;
      if (c.attentionLevels[i]) h = attention(k, `${bp}.attentions.${r}`, h, out, i);
      skips.push(h);
    }
    if (i !== c.numChannels.length - 1) {
      h = convolution(g, `${bp}.downsampler.op`, h, { kernel: 3, stride: 2, padding: 1 });
      skips.push(h);
    }
  }
  return { h, skips, temb: k.temb };
}

/** Number of ControlNet down residuals (= UNet skip-stack entries). */
export function numSkips(c: ResolvedUNetEncoderConfig): number {
  return 1 + c.numResBlocks.reduce((a, b) => a + b, 0) + c.numChannels.length - 1;
}

export interface ResidualValues {
  down: string[];
  mid: string;
}

/**
 * DiffusionModelUNet forward: x NCHW, timesteps [T] float (T = batch or 1), context [B, M, D]
 * when with_conditioning; optional ControlNet residuals added to the skips and the middle output.
 */
export function emitDiffusionUNet(g: OnnxGraph, c: ResolvedDiffusionUNetConfig, x: string, timesteps: string, context?: string, residuals?: ResidualValues, prefix = ''): string {
  if (c.withConditioning && !context) throw new Error('diffusion_unet: this model has with_conditioning=true and needs a context input');
  const k: Ctx = { g, c, temb: '', context };
  const enc = encoder(k, prefix, x, timesteps);
  let skips = enc.skips;
  if (residuals) {
    if (residuals.down.length !== skips.length) throw new Error(`diffusion_unet: got ${residuals.down.length} ControlNet down residuals, the network has ${skips.length} skips`);
    skips = skips.map((s, i) => g.node('Add', [s, residuals.down[i]]));
  }
  let h = middleBlock(k, p(prefix, 'middle_block'), enc.h);
  if (residuals) h = g.node('Add', [h, residuals.mid]);
  const rev = [...c.numChannels].reverse();
  const revRes = [...c.numResBlocks].reverse();
  const revAttn = [...c.attentionLevels].reverse();
  const levels = rev.length;
  let out = rev[0];
  for (let i = 0; i < levels; i++) {
    const bp = p(prefix, `up_blocks.${i}`);
    const prev = out;
    out = rev[i];
    const cin = rev[Math.min(i + 1, levels - 1)];
    const n = revRes[i] + 1;
    for (let r = 0; r < n; r++) {
      const skip = skips.pop();
      if (!skip) throw new Error('diffusion_unet: skip stack exhausted');
      const resSkip = r === n - 1 ? cin : out;
      const resIn = r === 0 ? prev : out;
      h = resnetBlock(k, `${bp}.resnets.${r}`, g.node('Concat', [h, skip], { axis: attr.int(1) }), resIn + resSkip, out);
      if (revAttn[i]) h = attention(k, `${bp}.attentions.${r}`, h, out, levels - 1 - i);
    }
    if (i !== levels - 1) {
      h = convolution(g, `${bp}.upsampler.conv`, upsampleNearest2x(g, h), { kernel: 3, padding: 1 });
    }
  }
  const normed = groupNorm(g, p(prefix, 'out.0'), h, c.normGroups, c.numChannels[0], c.normEps);
  return convolution(g, p(prefix, 'out.2'), silu(g, normed), { kernel: 3, padding: 1 });
}

/**
 * ControlNet forward: residuals (times `scale`, a graph value of shape [] or [1]) for the UNet.
 * cond is the NCHW conditioning image at 2^k times the latent size.
 */
export function emitControlNet(g: OnnxGraph, c: ResolvedControlNetConfig, x: string, timesteps: string, context: string | undefined, cond: string, scale: string, prefix = ''): ResidualValues {
  if (c.withConditioning && !context) throw new Error('controlnet: this model has with_conditioning=true and needs a context input');
  const k: Ctx = { g, c, temb: '', context };
  const ep = p(prefix, 'controlnet_cond_embedding');
  const embed = (): string => {
    let h = silu(g, convolution(g, `${ep}.conv_in`, cond, { kernel: 3, padding: 1 }));
    let bi = 0;
    for (let i = 0; i < c.condNumChannels.length - 1; i++) {
      h = silu(g, convolution(g, `${ep}.blocks.${bi++}`, h, { kernel: 3, padding: 1 }));
      h = silu(g, convolution(g, `${ep}.blocks.${bi++}`, h, { kernel: 3, padding: 1, stride: 2 }));
    }
    return convolution(g, `${ep}.conv_out`, h, { kernel: 3, padding: 1 });
  };
  const enc = encoder(k, prefix, x, timesteps, (h) => g.node('Add', [h, embed()]));
  const mid = middleBlock(k, p(prefix, 'middle_block'), enc.h);
  const scaled = (v: string) => g.node('Mul', [v, scale]);
  return {
    // MONAI made the first zero conv a bare nn.Conv2d (no `.conv` level).
    down: enc.skips.map((s, i) => scaled(i === 0 ? conv2d(g, p(prefix, 'controlnet_down_blocks.0'), s, { kernel: 1 }) : convolution(g, p(prefix, `controlnet_down_blocks.${i}`), s, { kernel: 1 }))),
    mid: scaled(convolution(g, p(prefix, 'controlnet_mid_block'), mid, { kernel: 1 })),
  };
}

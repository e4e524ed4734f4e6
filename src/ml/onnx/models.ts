import type { StateDict } from '../io/state-dict';
import type { ResolvedAutoencoderKLConfig } from '../networks/autoencoder-kl';
import type { ResolvedControlNetConfig } from '../networks/controlnet';
import type { ResolvedDiffusionUNetConfig } from '../networks/diffusion-unet';
import { emitDecoder, emitEncoder } from './autoencoder';
import { OnnxGraph } from './graph';
import { emitControlNet, emitDiffusionUNet, numSkips, type ResidualValues } from './unet';

/**
 * Whole ONNX models from a network's resolved config and its state_dict. Graph inputs and
 * outputs are NCHW (PyTorch/MONAI's layout); batch, spatial size and context length are symbolic,
 * so one model serves every batch and image size the network accepts. Timesteps are float32 [T]
 * with T = batch or 1 (broadcast), as the tfjs forward accepts.
 */

const IMG = (c: number): Array<number | string> => ['batch', c, 'height', 'width'];

/** Fails when an emitter skipped a weight: the graph would silently differ from the network. */
function checkAllUsed(g: OnnxGraph, ignore: (name: string) => boolean, what: string): void {
  const missed = g.unusedWeights().filter((n) => !ignore(n));
  if (missed.length > 0) throw new Error(`${what}: the ONNX graph does not use ${missed.length} weight(s): ${missed.slice(0, 5).join(', ')}${missed.length > 5 ? ', ...' : ''}`);
}

/** In MONAI 0.2.2 AttentionBlock.proj_attn exists in state_dicts but is never applied. */
const isProjAttn = (n: string): boolean => /\.proj_attn\.(weight|bias)$/.test(n);

function unetInputs(g: OnnxGraph, c: ResolvedDiffusionUNetConfig | ResolvedControlNetConfig): { x: string; t: string; context?: string } {
  const x = g.input('x', IMG(c.inChannels));
  const t = g.input('timesteps', ['timesteps']);
  const context = c.withConditioning ? g.input('context', ['batch', 'tokens', c.crossAttentionDim as number]) : undefined;
  return { x, t, context };
}

export function residualNames(c: ResolvedDiffusionUNetConfig | ResolvedControlNetConfig): string[] {
  return [...Array.from({ length: numSkips(c) }, (_, i) => `down_residual_${i}`), 'mid_residual'];
}

/**
 * DiffusionModelUNet -> output "out". With `residualInputs`, it also takes the ControlNet's
 * down_residual_i and mid_residual (NCHW) as inputs.
 */
export function unetModel(c: ResolvedDiffusionUNetConfig, weights: StateDict, opts: { residualInputs?: boolean; source?: string } = {}): OnnxGraph {
  const g = new OnnxGraph('diffusion_unet', weights, opts.source);
  const { x, t, context } = unetInputs(g, c);
  let residuals: ResidualValues | undefined;
  if (opts.residualInputs) {
    const names = residualNames(c);
    residuals = { down: names.slice(0, -1).map((n) => g.input(n, ['batch', 'c', 'h', 'w'])), mid: g.input('mid_residual', ['batch', 'c', 'h', 'w']) };
  }
  g.output('out', emitDiffusionUNet(g, c, x, t, context, residuals), IMG(c.outChannels));
  checkAllUsed(g, isProjAttn, 'diffusion_unet');
  return g;
}

/** ControlNet -> outputs down_residual_i and mid_residual, scaled by input "conditioning_scale" [1]. */
export function controlNetModel(c: ResolvedControlNetConfig, weights: StateDict, source?: string): OnnxGraph {
  const g = new OnnxGraph('controlnet', weights, source);
  const { x, t, context } = unetInputs(g, c);
  const cond = g.input('controlnet_cond', ['batch', c.condInChannels, 'cond_height', 'cond_width']);
  const scale = g.input('conditioning_scale', [1]);
  const r = emitControlNet(g, c, x, t, context, cond, scale);
  const names = residualNames(c);
  [...r.down, r.mid].forEach((v, i) => g.output(names[i], v, ['batch', 'c', 'h', 'w']));
  checkAllUsed(g, isProjAttn, 'controlnet');
  return g;
}

/**
 * ControlNet and UNet in one graph (what guided sampling runs each step): out =
 * unet(x, t, context, controlnet(x, t, context, cond, conditioning_scale)). Weights are prefixed
 * "controlnet." and "unet." so the two state_dicts can share one graph.
 */
export function controlledUNetModel(unetCfg: ResolvedDiffusionUNetConfig, unetWeights: StateDict, cnCfg: ResolvedControlNetConfig, cnWeights: StateDict): OnnxGraph {
  const merged: StateDict = new Map();
  for (const [k, v] of cnWeights) merged.set(`controlnet.${k}`, v);
  for (const [k, v] of unetWeights) merged.set(`unet.${k}`, v);
  const g = new OnnxGraph('controlled_unet', merged);
  const { x, t, context } = unetInputs(g, unetCfg);
  const cond = g.input('controlnet_cond', ['batch', cnCfg.condInChannels, 'cond_height', 'cond_width']);
  const scale = g.input('conditioning_scale', [1]);
  const residuals = emitControlNet(g, cnCfg, x, t, context, cond, scale, 'controlnet');
  g.output('out', emitDiffusionUNet(g, unetCfg, x, t, context, residuals, 'unet'), IMG(unetCfg.outChannels));
  checkAllUsed(g, isProjAttn, 'controlled_unet');
  return g;
}

/** AutoencoderKL decode: input "z" (latent), output "image". */
export function decoderModel(c: ResolvedAutoencoderKLConfig, weights: StateDict, source?: string): OnnxGraph {
  const g = new OnnxGraph('autoencoderkl_decoder', weights, source);
  g.output('image', emitDecoder(g, c, g.input('z', IMG(c.latentChannels))), IMG(c.outChannels));
  checkAllUsed(g, (n) => isProjAttn(n) || n.startsWith('encoder.') || n.startsWith('quant_conv_'), 'autoencoderkl decoder');
  return g;
}

/** AutoencoderKL encode: input "x" (image), outputs "z_mu" and "z_sigma". */
export function encoderModel(c: ResolvedAutoencoderKLConfig, weights: StateDict, source?: string): OnnxGraph {
  const g = new OnnxGraph('autoencoderkl_encoder', weights, source);
  const { mu, sigma } = emitEncoder(g, c, g.input('x', IMG(c.inChannels)));
  g.output('z_mu', mu, IMG(c.latentChannels));
  g.output('z_sigma', sigma, IMG(c.latentChannels));
  checkAllUsed(g, (n) => isProjAttn(n) || n.startsWith('decoder.') || n === 'post_quant_conv.conv.weight' || n === 'post_quant_conv.conv.bias', 'autoencoderkl encoder');
  return g;
}

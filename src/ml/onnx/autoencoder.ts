import type { ResolvedAutoencoderKLConfig } from '../networks/autoencoder-kl';
import type { OnnxGraph } from './graph';
import { attentionBlock, convolution, groupNorm, silu, upsampleNearest2x } from './layers';

/**
 * ONNX emitters for MONAI's AutoencoderKL encoder and decoder, following
 * src/ml/networks/autoencoder-kl.ts block by block (same state_dict names). NCHW.
 */

function resBlock(g: OnnxGraph, prefix: string, x: string, cin: number, cout: number, c: ResolvedAutoencoderKLConfig): string {
  let h = convolution(g, `${prefix}.conv1`, silu(g, groupNorm(g, `${prefix}.norm1`, x, c.normGroups, cin, c.normEps)), { kernel: 3, padding: 1 });
  h = convolution(g, `${prefix}.conv2`, silu(g, groupNorm(g, `${prefix}.norm2`, h, c.normGroups, cout, c.normEps)), { kernel: 3, padding: 1 });
  return g.node('Add', [cin !== cout ? convolution(g, `${prefix}.nin_shortcut`, x, { kernel: 1 }) : x, h]);
}

/** Posterior mean and standard deviation (log-variance clamped to [-30, 20]) of an NCHW image. */
export function emitEncoder(g: OnnxGraph, c: ResolvedAutoencoderKLConfig, x: string): { mu: string; sigma: string } {
  let idx = 0;
  const b = () => `encoder.blocks.${idx++}`;
  let h = convolution(g, b(), x, { kernel: 3, padding: 1 });
  let out = c.numChannels[0];
  for (let i = 0; i < c.numChannels.length; i++) {
    let cin = out;
    out = c.numChannels[i];
    for (let r = 0; r < c.numResBlocks[i]; r++) {
      h = resBlock(g, b(), h, cin, out, c);
      cin = out;
      if (c.attentionLevels[i]) h = attentionBlock(g, b(), h, cin, c.normGroups, c.normEps);
    }
    // Downsample (its MONAI Convolution sits at `.conv`): zero padding bottom/right by 1 then a
    // valid stride-2 conv, i.e. asymmetric conv padding.
    if (i !== c.numChannels.length - 1) h = convolution(g, `${b()}.conv`, h, { kernel: 3, stride: 2, padding: [0, 0, 1, 1] });
  }
  const last = c.numChannels[c.numChannels.length - 1];
  if (c.encoderNonlocalAttn) {
    h = resBlock(g, b(), h, last, last, c);
    h = attentionBlock(g, b(), h, last, c.normGroups, c.normEps);
    h = resBlock(g, b(), h, last, last, c);
  }
  h = groupNorm(g, b(), h, c.normGroups, last, c.normEps);
  h = convolution(g, b(), h, { kernel: 3, padding: 1 });
  const mu = convolution(g, 'quant_conv_mu', h, { kernel: 1 });
  const logVar = g.node('Clip', [convolution(g, 'quant_conv_log_sigma', h, { kernel: 1 }), g.constF([-30], []), g.constF([20], [])]);
  const sigma = g.node('Exp', [g.node('Mul', [logVar, g.constF([0.5], [])])]);
  return { mu, sigma };
}

/** decode(z): post_quant_conv then the decoder blocks; NCHW latent -> NCHW image. */
export function emitDecoder(g: OnnxGraph, c: ResolvedAutoencoderKLConfig, z: string): string {
  let idx = 0;
  const b = () => `decoder.blocks.${idx++}`;
  const rev = [...c.numChannels].reverse();
  const revRes = [...c.numResBlocks].reverse();
  const revAttn = [...c.attentionLevels].reverse();
  let h = convolution(g, 'post_quant_conv', z, { kernel: 1 });
  h = convolution(g, b(), h, { kernel: 3, padding: 1 });
  if (c.decoderNonlocalAttn) {
    h = resBlock(g, b(), h, rev[0], rev[0], c);
    h = attentionBlock(g, b(), h, rev[0], c.normGroups, c.normEps);
    h = resBlock(g, b(), h, rev[0], rev[0], c);
  }
  let out = rev[0];
  let cin = out;
  for (let i = 0; i < rev.length; i++) {
    cin = out;
    out = rev[i];
    for (let r = 0; r < revRes[i]; r++) {
      h = resBlock(g, b(), h, cin, out, c);
      cin = out;
      if (revAttn[i]) h = attentionBlock(g, b(), h, cin, c.normGroups, c.normEps);
    }
    if (i !== rev.length - 1) h = convolution(g, `${b()}.conv`, upsampleNearest2x(g, h), { kernel: 3, padding: 1 });
  }
  h = groupNorm(g, b(), h, c.normGroups, c.numChannels[0], c.normEps);
  return convolution(g, b(), h, { kernel: 3, padding: 1 });
}

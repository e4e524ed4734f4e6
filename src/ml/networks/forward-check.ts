import * as tf from '@tensorflow/tfjs';
import type { HostTensor, StateDict } from '../io/state-dict';
import { hostFromNhwc, nhwcFromHost } from '../nn/layout';
import { AutoencoderKL, type AutoencoderKLConfig } from './autoencoder-kl';
import { ControlNet, type ControlNetConfig } from './controlnet';
import { DiffusionModelUNet, type ControlResiduals, type DiffusionUNetConfig } from './diffusion-unet';
import { PatchDiscriminator, type PatchDiscriminatorConfig } from './patch-discriminator';
import type { NetworkKind } from './presets';

/**
 * One forward pass of a network on named NCHW inputs, producing outputs named like the MONAI
 * fixture io files. Used by `brainsynth forward` to check an imported checkpoint against
 * reference outputs, and by its tests.
 *
 * Inputs / outputs per network:
 *   autoencoderkl        x -> z_mu, z_sigma, reconstruction (= decode(z_mu))
 *   diffusion_unet       x_t, timesteps, [context] -> unet_out; with down_residual_i + mid_residual
 *                        inputs also controlled_unet_out
 *   controlnet           x_t, timesteps, [context], controlnet_cond -> down_residual_i, mid_residual;
 *                        with UNet weights also unet_out and controlled_unet_out
 *   patch_discriminator  x -> out_0..out_n (eval mode: BatchNorm running statistics)
 */
export interface ForwardCheckRequest {
  net: NetworkKind;
  config: Record<string, unknown>;
  weights: StateDict;
  inputs: Map<string, HostTensor>;
  /** ControlNet only: the UNet the residuals feed (config + weights). */
  unet?: { config: Record<string, unknown>; weights: StateDict };
  conditioningScale?: number;
  /** Names weights in load errors. */
  weightsSource?: string;
  unetWeightsSource?: string;
  inputsSource?: string;
}

function input(req: ForwardCheckRequest, name: string): HostTensor {
  const t = req.inputs.get(name);
  if (!t) {
    throw new Error(`${req.inputsSource ?? 'inputs'}: ${req.net} needs an input tensor "${name}" (found: ${[...req.inputs.keys()].join(', ') || 'none'})`);
  }
  return t;
}

function optionalContext(req: ForwardCheckRequest): tf.Tensor3D | undefined {
  const c = req.inputs.get('context');
  if (!c) return undefined;
  if (c.shape.length !== 3) throw new Error(`${req.inputsSource ?? 'inputs'}: context must be [B, tokens, dim], got [${c.shape.join(', ')}]`);
  return tf.tensor3d(c.data, c.shape as [number, number, number]);
}

export async function runForwardCheck(req: ForwardCheckRequest): Promise<Map<string, HostTensor>> {
  const out = new Map<string, HostTensor>();
  const owned: Array<{ dispose(): void }> = [];
  const put = async (name: string, t: tf.Tensor4D): Promise<void> => {
    out.set(name, await hostFromNhwc(t));
  };
  try {
    switch (req.net) {
      case 'autoencoderkl': {
        const ae = new AutoencoderKL(req.config as unknown as AutoencoderKLConfig);
        owned.push(ae);
        ae.loadStateDict(req.weights, { source: req.weightsSource });
        const r = tf.tidy(() => {
          const { mu, sigma } = ae.encode(nhwcFromHost(input(req, 'x')));
          return { z_mu: mu, z_sigma: sigma, reconstruction: ae.decode(mu) };
        });
        for (const [k, t] of Object.entries(r)) await put(k, t);
        tf.dispose(Object.values(r));
        break;
      }
      case 'patch_discriminator': {
        const d = new PatchDiscriminator(req.config as unknown as PatchDiscriminatorConfig);
        owned.push(d);
        d.loadStateDict(req.weights, { source: req.weightsSource });
        const outs = tf.tidy(() => d.forward(nhwcFromHost(input(req, 'x')), { training: false }));
        for (let i = 0; i < outs.length; i++) await put(`out_${i}`, outs[i]);
        tf.dispose(outs);
        break;
      }
      case 'diffusion_unet':
      case 'controlnet': {
        let unet: DiffusionModelUNet | null = null;
        let cn: ControlNet | null = null;
        if (req.net === 'diffusion_unet') {
          unet = new DiffusionModelUNet(req.config as unknown as DiffusionUNetConfig);
          owned.push(unet);
          unet.loadStateDict(req.weights, { source: req.weightsSource });
        } else {
          cn = new ControlNet(req.config as unknown as ControlNetConfig);
          owned.push(cn);
          cn.loadStateDict(req.weights, { source: req.weightsSource });
          if (req.unet) {
            unet = new DiffusionModelUNet(req.unet.config as unknown as DiffusionUNetConfig);
            owned.push(unet);
            unet.loadStateDict(req.unet.weights, { source: req.unetWeightsSource });
          }
        }
        const x = nhwcFromHost(input(req, 'x_t'));
        const ts = input(req, 'timesteps');
        const t = tf.tensor1d(ts.data);
        if ((cn ?? unet)?.config.withConditioning) input(req, 'context');
        const context = optionalContext(req);
        owned.push(x, t, ...(context ? [context] : []));
        let residuals: ControlResiduals | undefined;
        if (cn) {
          const cond = nhwcFromHost(input(req, 'controlnet_cond'));
          owned.push(cond);
          const c = cn;
          const flat = tf.tidy(() => {
            const r = c.forward(x, t, context, cond, req.conditioningScale ?? 1);
            return [...r.down, r.mid];
          });
          residuals = { down: flat.slice(0, -1), mid: flat[flat.length - 1] };
          for (let i = 0; i < residuals.down.length; i++) await put(`down_residual_${i}`, residuals.down[i]);
          await put('mid_residual', residuals.mid);
        } else if (req.inputs.has('down_residual_0') && req.inputs.has('mid_residual')) {
          const down: tf.Tensor4D[] = [];
          for (let i = 0; req.inputs.has(`down_residual_${i}`); i++) down.push(nhwcFromHost(input(req, `down_residual_${i}`)));
          residuals = { down, mid: nhwcFromHost(input(req, 'mid_residual')) };
        }
        if (unet) {
          const u = unet;
          const plain = tf.tidy(() => u.forward(x, t, context));
          await put('unet_out', plain);
          plain.dispose();
          if (residuals) {
            const r = residuals;
            const controlled = tf.tidy(() => u.forward(x, t, context, r));
            await put('controlled_unet_out', controlled);
            controlled.dispose();
          }
        }
        if (residuals) tf.dispose([...residuals.down, residuals.mid]);
        break;
      }
      default:
        throw new Error(`unknown network "${String(req.net)}"`);
    }
  } finally {
    for (const o of owned) o.dispose();
  }
  return out;
}

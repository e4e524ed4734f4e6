/**
 * The ControlNet-controlled UNet forward, as MONAI's ControlNet inferers run it: the ControlNet
 * sees the noisy latents, timesteps, context and the conditioning image (the FLAIR slice) and
 * returns residuals, scaled by the conditioning scale, that the UNet adds to its skip connections
 * and middle block. Training (loss on the prediction) and sampling (one call per step) share it.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ControlNet } from '../networks/controlnet';
import type { DiffusionModelUNet } from '../networks/diffusion-unet';

export interface ControlledNetworks {
  unet: DiffusionModelUNet;
  controlnet: ControlNet;
}

/** The UNet's prediction for x_t [B, h, w, c] under ControlNet control by `cond` [B, H, W, 1]. */
export function controlledForward(
  nets: ControlledNetworks,
  xt: tf.Tensor4D,
  timesteps: tf.Tensor1D,
  context: tf.Tensor3D,
  cond: tf.Tensor4D,
  conditioningScale: number,
): tf.Tensor4D {
  const residuals = nets.controlnet.forward(xt, timesteps, context, cond, conditioningScale);
  return nets.unet.forward(xt, timesteps, context, residuals);
}

/**
 * The autoencoder side of latent diffusion: images -> scaled latents for the diffusion model, and
 * latents -> images, as MONAI's latent inferers do (encode_stage_2_inputs(x) * scale_factor, and
 * decode_stage_2_outputs(z / scale_factor)).
 */
import * as tf from '@tensorflow/tfjs';
import type { AutoencoderKL } from '../networks/autoencoder-kl';
import { randnTensor, type NoiseGenerator } from '../schedulers';

/**
 * The latent scale when neither the checkpoint's state nor its config records one: the reference
 * hard-codes 0.3 on every training and sampling command line and never computes it.
 */
export const DEFAULT_LATENT_SCALE = 0.3;

/** [B, h, w, latentChannels] latents of B images of h x w pixels. */
export function latentShape(ae: AutoencoderKL, batch: number, height: number, width: number): [number, number, number, number] {
  const f = ae.downsampleFactor;
  return [batch, height / f, width / f, ae.config.latentChannels];
}

/**
 * scale * (mu + sigma * eps) for images x [B, H, W, 1]: the reference trains on a sample of the
 * posterior, not its mean. eps comes from `generator` (drawn in JS, the same on every backend).
 */
export function encodeLatents(ae: AutoencoderKL, x: tf.Tensor4D, scale: number, generator: NoiseGenerator): tf.Tensor4D {
  const [b, h, w] = x.shape;
  const eps = randnTensor(generator, latentShape(ae, b, h, w));
  try {
    return tf.tidy(() => {
      const { mu, sigma } = ae.encode(x);
      return tf.mul(ae.sample(mu, sigma, eps as tf.Tensor4D), scale) as tf.Tensor4D;
    });
  } finally {
    eps.dispose();
  }
}

/** decode(z / scale) clipped to [0, 1]: images [B, H, W, 1]. The caller keeps and disposes z. */
export function decodeLatents(ae: AutoencoderKL, z: tf.Tensor4D, scale: number): tf.Tensor4D {
  return tf.tidy(() => tf.clipByValue(ae.decode(tf.div(z, scale) as tf.Tensor4D), 0, 1));
}

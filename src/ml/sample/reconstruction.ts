/**
 * The autoencoder's reconstruction of real slices, decode(mu(encode(x))), on the 160x224 grid: the
 * autoencoder stage's own evaluation, and the ceiling beside every later stage's (no diffusion
 * model decoding through this autoencoder can do better than its reconstruction of the real image).
 * The posterior mean is used, as the reference's reconstruction metrics do, so it is deterministic.
 */
import * as tf from '@tensorflow/tfjs';
import { SLICE_PIXELS } from '../data/slices';
import type { AutoencoderKL } from '../networks/autoencoder-kl';
import { SamplingCancelledError } from '../pipeline';
import { downsampleBox, upsampleBilinear } from './resize';
import { GRID } from './volume';

export interface ReconstructOptions {
  /** The size the autoencoder was trained at, e.g. [80, 112] (a whole fraction of 160x224). */
  imageSize: [number, number];
  batch?: number;
  onBatch?(done: number, total: number): void;
  shouldStop?(): boolean;
}

/** count x 160 x 224 images in [0, 1] -> their reconstructions, same layout, clipped to [0, 1]. */
export async function reconstructGridSlices(ae: AutoencoderKL, images: Float32Array, count: number, opts: ReconstructOptions): Promise<Float32Array> {
  if (images.length !== count * SLICE_PIXELS) throw new Error(`reconstruct: expected ${count} slices of 160x224, got ${images.length} values`);
  const model = { height: opts.imageSize[0], width: opts.imageSize[1] };
  const batch = Math.max(1, Math.floor(opts.batch ?? 4));
  const out = new Float32Array(count * SLICE_PIXELS);
  for (let start = 0; start < count; start += batch) {
    if (opts.shouldStop?.()) throw new SamplingCancelledError();
    const n = Math.min(batch, count - start);
    const small = downsampleBox(images.subarray(start * SLICE_PIXELS, (start + n) * SLICE_PIXELS), n, GRID, model);
    const rec = tf.tidy(() => tf.clipByValue(ae.reconstruct(tf.tensor4d(small, [n, model.height, model.width, 1])), 0, 1));
    const data = await rec.data();
    rec.dispose();
    out.set(upsampleBilinear(Float32Array.from(data), n, model, GRID), start * SLICE_PIXELS);
    opts.onBatch?.(start + n, count);
  }
  return out;
}

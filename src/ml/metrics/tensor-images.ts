/** Bridge from the samplers' NHWC tf tensors to the metrics' plain image batches. */
import type * as tf from '@tensorflow/tfjs';
import type { ImageBatch } from './images';

/**
 * An NHWC tensor [B, H, W, C] as an ImageBatch: [B, H, W] for one channel (same memory order),
 * else [B, C, H, W]. Async because webgpu has no synchronous readback.
 */
export async function imageBatchFromNhwc(x: tf.Tensor4D): Promise<ImageBatch> {
  const [b, h, w, c] = x.shape;
  const data = Float32Array.from(await x.data());
  if (c === 1) return { data, shape: [b, h, w] };
  const out = new Float32Array(data.length);
  for (let n = 0; n < b; n++) {
    for (let i = 0; i < h * w; i++) {
      for (let ch = 0; ch < c; ch++) out[(n * c + ch) * h * w + i] = data[(n * h * w + i) * c + ch];
    }
  }
  return { data: out, shape: [b, c, h, w] };
}

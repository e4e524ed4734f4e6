/** PSNR, MSE and MAE per image (MONAI 1.2 regression metrics: mean over C,H,W per image). */
import { pairLayout, type ImageBatch } from './images';

export interface PsnrOptions {
  /** Peak value (MONAI max_val); the reference uses 1 for [0,1] images. */
  maxVal?: number;
}

export function mse(pred: ImageBatch, target: ImageBatch): Float64Array {
  const { batch, imageSize } = pairLayout(pred, target);
  const out = new Float64Array(batch);
  for (let b = 0; b < batch; b++) {
    let s = 0;
    const o = b * imageSize;
    for (let i = 0; i < imageSize; i++) {
      const d = pred.data[o + i] - target.data[o + i];
      s += d * d;
    }
    out[b] = s / imageSize;
  }
  return out;
}

export function mae(pred: ImageBatch, target: ImageBatch): Float64Array {
  const { batch, imageSize } = pairLayout(pred, target);
  const out = new Float64Array(batch);
  for (let b = 0; b < batch; b++) {
    let s = 0;
    const o = b * imageSize;
    for (let i = 0; i < imageSize; i++) s += Math.abs(pred.data[o + i] - target.data[o + i]);
    out[b] = s / imageSize;
  }
  return out;
}

/** PSNR = 20 log10(maxVal) - 10 log10(MSE); identical images give +Infinity, as in MONAI. */
export function psnrFromMse(meanSquaredError: number, maxVal = 1): number {
  return 20 * Math.log10(maxVal) - 10 * Math.log10(meanSquaredError);
}

export function psnr(pred: ImageBatch, target: ImageBatch, options: PsnrOptions = {}): Float64Array {
  const { maxVal = 1 } = options;
  if (!(maxVal > 0)) throw new Error(`PSNR: maxVal must be > 0, got ${maxVal}`);
  return mse(pred, target).map((m) => psnrFromMse(m, maxVal));
}

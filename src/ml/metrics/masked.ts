/**
 * Lesion-aware metrics: MAE, PSNR and SSIM restricted to a region of each image (inside the lesion
 * mask, or outside it within the brain). MS-SSIM has no masked form (its pyramid mixes regions),
 * so the region-wise structural score is the mean SSIM map over windows centred in the region.
 * A region with no pixels in an image gives NaN for that image (summaries count it as missing).
 */
import { layoutOf, pairLayout, type ImageBatch } from './images';
import { psnrFromMse } from './regression';
import { ssimMapsOfPlane, type SsimOptions } from './ssim';

/** A per-pixel region selector shaped like the images: nonzero = included. */
export interface RegionMask {
  data: Uint8Array;
  shape: readonly number[];
}

export interface LesionRegions {
  inside: RegionMask;
  outside: RegionMask;
}

/**
 * Inside = lesion pixels (lesion > threshold); outside = the rest, limited to `brain` when given
 * (so empty background does not inflate the "outside" scores).
 */
export function lesionRegions(lesion: ImageBatch, brain?: ImageBatch, threshold = 0.5): LesionRegions {
  const l = layoutOf(lesion, 'lesion mask');
  if (brain) {
    const b = layoutOf(brain, 'brain mask');
    if (b.batch !== l.batch || b.imageSize !== l.imageSize) throw new Error('brain mask and lesion mask differ in shape');
  }
  const inside = new Uint8Array(lesion.data.length);
  const outside = new Uint8Array(lesion.data.length);
  for (let i = 0; i < inside.length; i++) {
    const isLesion = lesion.data[i] > threshold;
    inside[i] = isLesion ? 1 : 0;
    outside[i] = !isLesion && (!brain || brain.data[i] > 0) ? 1 : 0;
  }
  return { inside: { data: inside, shape: lesion.shape }, outside: { data: outside, shape: lesion.shape } };
}

function checkMask(mask: RegionMask, pred: ImageBatch): void {
  if (mask.data.length !== pred.data.length) {
    throw new Error(`region mask has ${mask.data.length} pixels but the images have ${pred.data.length} ([${mask.shape.join(',')}] vs [${pred.shape.join(',')}])`);
  }
}

export interface MaskedValues {
  mae: Float64Array;
  psnr: Float64Array;
  /** Pixels in the region, per image. */
  pixels: Int32Array;
}

export function maskedRegression(pred: ImageBatch, target: ImageBatch, mask: RegionMask, maxVal = 1): MaskedValues {
  const { batch, imageSize } = pairLayout(pred, target);
  checkMask(mask, pred);
  const maeOut = new Float64Array(batch);
  const psnrOut = new Float64Array(batch);
  const pixels = new Int32Array(batch);
  for (let b = 0; b < batch; b++) {
    let abs = 0;
    let sq = 0;
    let count = 0;
    for (let i = b * imageSize; i < (b + 1) * imageSize; i++) {
      if (!mask.data[i]) continue;
      const d = pred.data[i] - target.data[i];
      abs += Math.abs(d);
      sq += d * d;
      count++;
    }
    pixels[b] = count;
    maeOut[b] = count ? abs / count : NaN;
    psnrOut[b] = count ? psnrFromMse(sq / count, maxVal) : NaN;
  }
  return { mae: maeOut, psnr: psnrOut, pixels };
}

/** Mean SSIM over the valid windows whose centre pixel lies in the region, per image. */
export function maskedSsim(pred: ImageBatch, target: ImageBatch, mask: RegionMask, options: SsimOptions = {}): Float64Array {
  return maskedSsimRegions(pred, target, [mask], options)[0];
}

/** maskedSsim for several regions at once (each SSIM map is computed once). */
export function maskedSsimRegions(pred: ImageBatch, target: ImageBatch, masks: RegionMask[], options: SsimOptions = {}): Float64Array[] {
  const { batch, channels, height, width } = pairLayout(pred, target);
  for (const m of masks) checkMask(m, pred);
  const plane = height * width;
  const out = masks.map(() => new Float64Array(batch));
  for (let b = 0; b < batch; b++) {
    const sums = new Float64Array(masks.length);
    const counts = new Float64Array(masks.length);
    for (let ch = 0; ch < channels; ch++) {
      const o = (b * channels + ch) * plane;
      const maps = ssimMapsOfPlane(pred.data.subarray(o, o + plane), target.data.subarray(o, o + plane), height, width, options);
      const half = (height - maps.height) / 2;
      for (let r = 0; r < maps.height; r++) {
        for (let c = 0; c < maps.width; c++) {
          const at = o + (r + half) * width + c + half;
          const v = maps.ssim[r * maps.width + c];
          for (let k = 0; k < masks.length; k++) {
            if (!masks[k].data[at]) continue;
            sums[k] += v;
            counts[k]++;
          }
        }
      }
    }
    for (let k = 0; k < masks.length; k++) out[k][b] = counts[k] ? sums[k] / counts[k] : NaN;
  }
  return out;
}

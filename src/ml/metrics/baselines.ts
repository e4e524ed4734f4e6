/**
 * Baselines that need no model, so every result table shows whether a model beats "doing nothing
 * clever" (measured in ../shared/docs/data.md: raw FLAIR and a FLAIR->T1w lookup table already
 * reach ~15.4 dB on patient19 under min-max scaling).
 *  (a) inverted + histogram-matched FLAIR: 1 - FLAIR inside the brain, then its ranks mapped onto
 *      a reference T1w intensity distribution (e.g. the training T1w brain voxels); also without
 *      the inversion;
 *  (b) a lookup table E[T1w | FLAIR intensity bin] fitted on training pairs.
 * Pixels whose FLAIR is <= the foreground threshold (background) are predicted as 0.
 * Images are [0,1] float slices, processed one [H, W] image (or any flat image) at a time.
 */

export interface ReferenceDistribution {
  /** Sorted quantiles of the reference intensities (ascending, evenly spaced probabilities). */
  quantiles: Float64Array;
}

const DEFAULT_QUANTILES = 1024;

/** Quantiles of the foreground (> threshold) values of reference images, e.g. training T1w slices. */
export function fitReferenceDistribution(images: ArrayLike<number>[], options: { threshold?: number; quantiles?: number } = {}): ReferenceDistribution {
  const { threshold = 0, quantiles = DEFAULT_QUANTILES } = options;
  const values: number[] = [];
  for (const img of images) for (let i = 0; i < img.length; i++) if (img[i] > threshold) values.push(img[i]);
  if (values.length === 0) throw new Error('reference distribution: no foreground pixels (all values <= threshold)');
  const sorted = Float64Array.from(values).sort();
  const q = new Float64Array(quantiles);
  for (let k = 0; k < quantiles; k++) q[k] = quantileOfSorted(sorted, quantiles === 1 ? 0.5 : k / (quantiles - 1));
  return { quantiles: q };
}

function quantileOfSorted(sorted: Float64Array, p: number): number {
  const pos = p * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

function interpolateQuantile(q: Float64Array, p: number): number {
  return quantileOfSorted(q, Math.min(1, Math.max(0, p)));
}

/**
 * Baseline (a): histogram-match the FLAIR foreground to `reference`: each foreground pixel's rank
 * in the image (by 1 - FLAIR when `invert`, the default) becomes a probability, read off the
 * reference quantiles. Measured on patient19 the inversion hurts (FLAIR's dark CSF is also dark on
 * T1w), so `invert: false` is offered as the stronger variant; both are model-free.
 */
export function histogramMatchedFlair(flair: ArrayLike<number>, reference: ReferenceDistribution, options: { invert?: boolean; threshold?: number } = {}): Float32Array {
  const { invert = true, threshold = 0 } = options;
  const out = new Float32Array(flair.length);
  const idx: number[] = [];
  for (let i = 0; i < flair.length; i++) if (flair[i] > threshold) idx.push(i);
  if (idx.length === 0) return out;
  // Ascending by the matched quantity; ties share their mean rank.
  idx.sort(invert ? (a, b) => flair[b] - flair[a] : (a, b) => flair[a] - flair[b]);
  const n = idx.length;
  let start = 0;
  while (start < n) {
    let end = start + 1;
    while (end < n && flair[idx[end]] === flair[idx[start]]) end++;
    const meanRank = (start + end - 1) / 2;
    const value = interpolateQuantile(reference.quantiles, n === 1 ? 0.5 : meanRank / (n - 1));
    for (let k = start; k < end; k++) out[idx[k]] = value;
    start = end;
  }
  return out;
}

/** Baseline (a) as specified: 1 - FLAIR, histogram-matched to the reference T1w distribution. */
export function invertedHistogramMatchedFlair(flair: ArrayLike<number>, reference: ReferenceDistribution, threshold = 0): Float32Array {
  return histogramMatchedFlair(flair, reference, { invert: true, threshold });
}

export interface IntensityLookupTable {
  /** Number of equal-width FLAIR bins over [0, 1]. */
  bins: number;
  /** Mean target intensity per bin (empty bins filled from their nearest non-empty neighbours). */
  values: Float64Array;
  /** Training pixels per bin. */
  counts: Float64Array;
  threshold: number;
}

function binOf(v: number, bins: number): number {
  return Math.min(bins - 1, Math.max(0, Math.floor(v * bins)));
}

/** Baseline (b): fit E[T1w | FLAIR bin] on paired training images (foreground pixels only). */
export function fitIntensityLookupTable(
  pairs: { flair: ArrayLike<number>; t1w: ArrayLike<number> }[],
  options: { bins?: number; threshold?: number } = {},
): IntensityLookupTable {
  const { bins = 64, threshold = 0 } = options;
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`lookup table: bins must be a positive integer, got ${bins}`);
  const sums = new Float64Array(bins);
  const counts = new Float64Array(bins);
  pairs.forEach(({ flair, t1w }, p) => {
    if (flair.length !== t1w.length) throw new Error(`lookup table: pair ${p} has ${flair.length} FLAIR but ${t1w.length} T1w pixels`);
    for (let i = 0; i < flair.length; i++) {
      if (!(flair[i] > threshold)) continue;
      const b = binOf(flair[i], bins);
      sums[b] += t1w[i];
      counts[b]++;
    }
  });
  if (counts.every((c) => c === 0)) throw new Error('lookup table: no foreground training pixels');
  const values = new Float64Array(bins).fill(NaN);
  for (let b = 0; b < bins; b++) if (counts[b] > 0) values[b] = sums[b] / counts[b];
  // Empty bins: linear interpolation between the nearest filled bins (constant at the ends).
  const filled = Array.from(values.keys()).filter((b) => counts[b] > 0);
  for (let b = 0; b < bins; b++) {
    if (counts[b] > 0) continue;
    const right = filled.find((f) => f > b);
    const left = [...filled].reverse().find((f) => f < b);
    if (left === undefined) values[b] = values[right!];
    else if (right === undefined) values[b] = values[left];
    else values[b] = values[left] + ((b - left) / (right - left)) * (values[right] - values[left]);
  }
  return { bins, values, counts, threshold };
}

export function applyIntensityLookupTable(flair: ArrayLike<number>, table: IntensityLookupTable): Float32Array {
  const out = new Float32Array(flair.length);
  for (let i = 0; i < flair.length; i++) {
    if (flair[i] > table.threshold) out[i] = table.values[binOf(flair[i], table.bins)];
  }
  return out;
}

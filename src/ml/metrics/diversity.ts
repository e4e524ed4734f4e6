/**
 * Sample diversity as the reference measures it (compute_msssim_sample.py): the mean MS-SSIM over
 * every ordered pair (i, j), i != j, of a sample set. MS-SSIM is symmetric, so each unordered pair
 * is computed once and counted twice, which gives the same mean. Lower = more diverse.
 */
import { imageAt, layoutOf, type ImageBatch } from './images';
import { msSsim, type MsSsimOptions } from './ssim';
import { summarize, type MetricSummary } from './summary';

export interface DiversityResult extends MetricSummary {
  /** Ordered pairs represented (n * (n - 1)). */
  orderedPairs: number;
}

export function msSsimDiversity(samples: ImageBatch, options: MsSsimOptions = {}): DiversityResult {
  const { batch } = layoutOf(samples, 'samples');
  if (batch < 2) throw new Error(`MS-SSIM diversity needs at least 2 samples, got ${batch}`);
  const values: number[] = [];
  for (let i = 0; i < batch; i++) {
    for (let j = i + 1; j < batch; j++) {
      const v = msSsim(imageAt(samples, i), imageAt(samples, j), options)[0];
      values.push(v, v);
    }
  }
  return { ...summarize(values), orderedPairs: values.length };
}

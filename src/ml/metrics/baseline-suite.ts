/**
 * The model-free baselines as one fitted object, so an evaluation run can put a "no model" row
 * under every result table: fit once on the training pairs, then predict any FLAIR slice.
 */
import {
  applyIntensityLookupTable,
  fitIntensityLookupTable,
  fitReferenceDistribution,
  histogramMatchedFlair,
  type IntensityLookupTable,
  type ReferenceDistribution,
} from './baselines';

export type BaselineName = 'flair_raw' | 'flair_inverted_histmatch' | 'flair_histmatch' | 'intensity_lut';

export const BASELINE_NAMES: readonly BaselineName[] = ['flair_raw', 'flair_inverted_histmatch', 'flair_histmatch', 'intensity_lut'];

export const BASELINE_DESCRIPTIONS: Record<BaselineName, string> = {
  flair_raw: 'the FLAIR slice itself as the T1w prediction',
  flair_inverted_histmatch: '1 - FLAIR inside the brain, histogram-matched to the training T1w intensities',
  flair_histmatch: 'FLAIR histogram-matched to the training T1w intensities (no inversion)',
  intensity_lut: 'lookup table E[T1w | FLAIR intensity bin] fitted on the training pairs',
};

export interface FittedBaselines {
  reference: ReferenceDistribution;
  lookupTable: IntensityLookupTable;
  threshold: number;
}

export function fitBaselines(
  trainPairs: { flair: ArrayLike<number>; t1w: ArrayLike<number> }[],
  options: { bins?: number; threshold?: number } = {},
): FittedBaselines {
  if (trainPairs.length === 0) throw new Error('baselines: no training pairs to fit on');
  const threshold = options.threshold ?? 0;
  return {
    reference: fitReferenceDistribution(trainPairs.map((p) => p.t1w), { threshold }),
    lookupTable: fitIntensityLookupTable(trainPairs, { bins: options.bins, threshold }),
    threshold,
  };
}

/** The prediction of one baseline for one FLAIR slice (same length, [0,1]). */
export function predictBaseline(name: BaselineName, flair: ArrayLike<number>, fitted: FittedBaselines): Float32Array {
  switch (name) {
    case 'flair_raw':
      return Float32Array.from(flair);
    case 'flair_inverted_histmatch':
      return histogramMatchedFlair(flair, fitted.reference, { invert: true, threshold: fitted.threshold });
    case 'flair_histmatch':
      return histogramMatchedFlair(flair, fitted.reference, { invert: false, threshold: fitted.threshold });
    case 'intensity_lut':
      return applyIntensityLookupTable(flair, fitted.lookupTable);
    default:
      throw new Error(`unknown baseline "${String(name)}" (expected ${BASELINE_NAMES.join(', ')})`);
  }
}

/**
 * One-slice generation for the Generate view: a FLAIR slice on the 160x224 grid (from a subject's
 * volumes, normalised as the model's dataset was, or given directly) -> N samples (seed + k), the
 * per-pixel mean and population standard deviation over the samples (uncertainty), and, when the
 * subject has a real T1w, the absolute-difference map and PSNR / MAE / MS-SSIM of every sample and
 * of the mean. All images are 160x224 row-major floats.
 */
import { readLasVolume, type LasVolume } from '../data/prepare';
import {
  SLICE_PIXELS,
  extractAxialSlice,
  minMaxStats,
  normaliseSlice,
  parseSlicePreset,
  percentileStats,
  selectSlices,
  validMask,
  type NormalisationStats,
} from '../data/slices';
import { signalFraction } from '../data/slice-signal';
import { evaluatePairs } from '../metrics';
import type { SamplingPipeline } from '../pipeline';
import type { SamplerKind } from './sampler';
import { translateGridSlices, type NormalisationSpec } from './volume';

export interface SubjectSliceSource {
  flairPath: string;
  t1wPath?: string | null;
  lesionMaskPath?: string | null;
  /** Axial index in LAS order (the order every slice index in brainsynth refers to). */
  z: number;
}

export interface GridSlices {
  flair: Float32Array;
  t1w: Float32Array | null;
  lesion: Float32Array | null;
  z: number;
}

/** Normalisation statistics of one subject as data preparation computes them. */
function subjectStats(flair: LasVolume, t1w: LasVolume | null, spec: NormalisationSpec): { flair: NormalisationStats; t1w: NormalisationStats | null } {
  if (spec.method === 'percentile') {
    return { flair: percentileStats(flair.data, spec.percentiles ?? undefined), t1w: t1w ? percentileStats(t1w.data, spec.percentiles ?? undefined) : null };
  }
  const zs = selectSlices(parseSlicePreset(spec.slices ?? 'brain-band'), flair.dims, flair.data, (t1w ?? flair).data);
  const valid = validMask(flair.dims);
  const block = (v: LasVolume) => minMaxStats(zs.map((z) => extractAxialSlice(v.data, v.dims, z)), valid);
  return { flair: block(flair), t1w: t1w ? block(t1w) : null };
}

/** Reads slice z of a subject's volumes on the 160x224 grid, normalised like the model's dataset. */
export async function readSubjectSlice(src: SubjectSliceSource, spec: NormalisationSpec): Promise<GridSlices> {
  const flair = await readLasVolume(src.flairPath);
  if (!(Number.isInteger(src.z) && src.z >= 0 && src.z < flair.dims[2])) {
    throw new Error(`${src.flairPath}: slice z=${src.z} is outside 0..${flair.dims[2] - 1}`);
  }
  const t1w = src.t1wPath ? await readLasVolume(src.t1wPath) : null;
  if (t1w && t1w.dims.join('x') !== flair.dims.join('x')) throw new Error(`${src.t1wPath}: grid ${t1w.dims.join('x')} differs from its FLAIR ${flair.dims.join('x')}`);
  const stats = subjectStats(flair, t1w, spec);
  const valid = validMask(flair.dims);
  const f = extractAxialSlice(flair.data, flair.dims, src.z);
  normaliseSlice(f, stats.flair, valid);
  let t: Float32Array | null = null;
  if (t1w && stats.t1w) {
    t = extractAxialSlice(t1w.data, t1w.dims, src.z);
    normaliseSlice(t, stats.t1w, valid);
  }
  let lesion: Float32Array | null = null;
  if (src.lesionMaskPath) {
    const m = await readLasVolume(src.lesionMaskPath);
    lesion = extractAxialSlice(m.data, m.dims, src.z);
  }
  return { flair: f, t1w: t, lesion, z: src.z };
}

/**
 * The signal fraction (signalFraction) of every axial FLAIR slice of a subject, in LAS order,
 * normalised exactly as readSubjectSlice normalises the slice it hands to the model.
 */
export async function subjectSignalProfile(src: Pick<SubjectSliceSource, 'flairPath' | 't1wPath'>, spec: NormalisationSpec): Promise<number[]> {
  const flair = await readLasVolume(src.flairPath);
  const t1w = src.t1wPath ? await readLasVolume(src.t1wPath) : null;
  if (t1w && t1w.dims.join('x') !== flair.dims.join('x')) throw new Error(`${src.t1wPath}: grid ${t1w.dims.join('x')} differs from its FLAIR ${flair.dims.join('x')}`);
  const stats = subjectStats(flair, t1w, spec).flair;
  const valid = validMask(flair.dims);
  const slice = new Float32Array(SLICE_PIXELS);
  const fractions: number[] = [];
  for (let z = 0; z < flair.dims[2]; z++) {
    extractAxialSlice(flair.data, flair.dims, z, slice);
    normaliseSlice(slice, stats, valid);
    fractions.push(signalFraction(slice));
  }
  return fractions;
}

export interface SliceGenerationOptions {
  seed: number;
  samples: number;
  steps?: number;
  sampler?: SamplerKind;
  guidanceScale?: number;
  conditioningScale?: number;
  /** Zero the samples outside the FLAIR's brain (default: the pipeline's). */
  brainMask?: boolean;
  batch?: number;
  onProgress?(p: { done: number; total: number; step: number; steps: number }): void;
  shouldStop?(): boolean;
}

export type SliceMetrics = Record<string, number>;

export interface SliceGenerationResult {
  seeds: number[];
  /** samples x 160 x 224 */
  samples: Float32Array;
  mean: Float32Array;
  /** Per-pixel population std over samples (all 0 for one sample). */
  std: Float32Array;
  /** |mean - real T1w| when a real T1w exists. */
  absDiff: Float32Array | null;
  /** Per sample, then 'mean': psnr, mae, ms_ssim (+ lesion columns with a mask). */
  metrics: { sample: SliceMetrics[]; mean: SliceMetrics } | null;
  seconds: number;
}

function metricsOf(pred: Float32Array, target: Float32Array, lesion: Float32Array | null): SliceMetrics {
  const shape = [1, 160, 224];
  const t = evaluatePairs(
    { data: pred, shape },
    { data: target, shape },
    lesion ? { lesion: { data: lesion, shape }, brain: { data: target, shape } } : {},
  );
  const out: SliceMetrics = {};
  for (const c of t.columns) out[c] = t.values[c]![0]!;
  return out;
}

export async function generateForSlice(p: SamplingPipeline, slice: GridSlices, opts: SliceGenerationOptions): Promise<SliceGenerationResult> {
  const n = opts.samples;
  if (!(Number.isInteger(n) && n >= 1 && n <= 64)) throw new Error(`samples must be an integer from 1 to 64, got ${n}`);
  const started = performance.now();
  const seeds = Array.from({ length: n }, (_, k) => opts.seed + k);
  const flair = new Float32Array(n * SLICE_PIXELS);
  for (let k = 0; k < n; k++) flair.set(slice.flair, k * SLICE_PIXELS);
  let done = 0;
  const samples = await translateGridSlices(p, flair, {
    seeds,
    steps: opts.steps,
    sampler: opts.sampler,
    guidanceScale: opts.guidanceScale,
    conditioningScale: opts.conditioningScale,
    brainMask: opts.brainMask,
    batch: opts.batch ?? Math.min(n, 4),
    shouldStop: opts.shouldStop,
    onStep: (step, steps) => opts.onProgress?.({ done, total: n, step, steps }),
    onBatch: (d) => (done = d),
  });
  const mean = new Float32Array(SLICE_PIXELS);
  const std = new Float32Array(SLICE_PIXELS);
  for (let i = 0; i < SLICE_PIXELS; i++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += samples[k * SLICE_PIXELS + i]!;
    const m = s / n;
    let ss = 0;
    for (let k = 0; k < n; k++) ss += (samples[k * SLICE_PIXELS + i]! - m) ** 2;
    mean[i] = m;
    std[i] = Math.sqrt(ss / n);
  }
  let absDiff: Float32Array | null = null;
  let metrics: SliceGenerationResult['metrics'] = null;
  if (slice.t1w) {
    const real = slice.t1w;
    absDiff = mean.map((v, i) => Math.abs(v - real[i]!));
    metrics = {
      sample: seeds.map((_, k) => metricsOf(samples.subarray(k * SLICE_PIXELS, (k + 1) * SLICE_PIXELS), real, slice.lesion)),
      mean: metricsOf(mean, real, slice.lesion),
    };
  }
  opts.onProgress?.({ done: n, total: n, step: 0, steps: 0 });
  return { seeds, samples, mean, std, absDiff, metrics, seconds: (performance.now() - started) / 1000 };
}

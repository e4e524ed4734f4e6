/**
 * Evaluation of a ControlNet pipeline on one split of a prepared dataset (the reference's
 * compute_controlnet_performance.py and its metric settings): every slice of the split (in cache order, or
 * `limit` of them spread evenly through it) is translated once (seed + index), then per image PSNR (max 1), MAE and MS-SSIM
 * (kernel 7, data range 1), lesion-inside/outside variants where every evaluated subject has a
 * lesion mask, and the same columns for model-free baselines fitted on the TRAIN split:
 *   baseline_lut        E[T1w | FLAIR intensity bin] (64 bins), a learned-nothing lookup table;
 *   baseline_histmatch  inverted FLAIR histogram-matched to the training T1w distribution.
 * Everything is measured on the full 160x224 grid: the model's output is upsampled from its own
 * size (see resize.ts), the target is the prepared 160x224 T1w. MS-SSIM needs >= 112 px per side
 * with kernel 7, so measuring at a desktop model's 80x112 would not be possible anyway.
 * This module only reads files and writes images; storing results is the caller's business.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadPreparedSlices, readLasVolume, type LasVolume, type PreparedRecord } from '../data/prepare';
import { SLICE_HEIGHT, SLICE_PIXELS, SLICE_WIDTH, extractAxialSlice } from '../data/slices';
import { hasSliceSignal } from '../data/slice-signal';
import type { SplitName } from '../data/split';
import {
  applyIntensityLookupTable,
  evaluatePairs,
  fitIntensityLookupTable,
  fitReferenceDistribution,
  invertedHistogramMatchedFlair,
  type MetricTable,
} from '../metrics';
import { tileImages, writePng } from '../io/png';
import type { SamplingPipeline } from '../pipeline';
import type { SamplerKind } from './sampler';
import { maskToConditionBrain } from './brain-mask';
import { reconstructGridSlices } from './reconstruction';
import type { DiversityReport, FrechetReport } from './sample-quality';
import { translateGridSlices } from './volume';

export const BASELINES = ['baseline_lut', 'baseline_histmatch'] as const;
export type BaselineName = (typeof BASELINES)[number];
/** The autoencoder's reconstruction of the real T1w, reported beside the baselines: the best any model decoding through it can do. */
export const AE_CEILING = 'ceiling_autoencoder';
/** The mean of K samples per slice (the posterior-mean estimate), reported beside the single sample. */
export const POSTERIOR_MEAN = 'posterior_mean';
/** Per-pixel std maps are saved as std * 4 (clipped), so a std of 0.25 is white. */
export const STD_MAP_GAIN = 4;

/** Which trained stage an evaluation scores. */
export type EvaluatedStage = 'autoencoder' | 'ldm' | 'controlnet';

export interface EvaluationOptions {
  /** Prepared-slice cache (folder with index.json) of the model's dataset. */
  datasetDir: string;
  split: SplitName;
  steps?: number;
  seed?: number;
  /**
   * Only K slices of the split, evenly spaced through it in cache order (subject by subject,
   * inferior to superior), so a small K covers several subjects and the whole band rather
   * than K neighbouring edge slices of the first subject.
   */
  limit?: number;
  batch?: number;
  sampler?: SamplerKind;
  guidanceScale?: number;
  conditioningScale?: number;
  /**
   * Zero the generated images outside each FLAIR slice's brain (default: the pipeline's). The
   * autoencoder ceiling is masked the same way, so it stays the bound for what is scored.
   */
  brainMask?: boolean;
  /** K samples per slice: the single-sample metrics are sample 0's, the posterior mean's are reported beside them. */
  samplesPerSlice?: number;
  /** Lesion mask volume per subject label (LAS-readable NIfTI); lesion columns need one for every evaluated subject. */
  lesionMasks?: Record<string, string>;
  /** Where the image triples (FLAIR | generated | real T1w, 160x(3*224+4)) go; none when omitted. */
  imagesDir?: string;
  onProgress?(p: { phase: 'baselines' | 'sampling' | 'reconstruction' | 'features' | 'metrics'; done: number; total: number; step?: number; steps?: number }): void;
  shouldStop?(): boolean;
}

export interface EvaluatedImage {
  index: number;
  subject: string;
  session: string | null;
  z: number;
  mniZ: number;
  lesionPixels: number | null;
  seed: number;
  /** Image triple file, when imagesDir was given. */
  imagePath: string | null;
  /** Per-pixel std over the K samples (std * STD_MAP_GAIN), with K > 1 and imagesDir. */
  stdMapPath?: string;
}

export interface EvaluationOutput {
  stage: EvaluatedStage;
  split: SplitName;
  images: EvaluatedImage[];
  /** Per-image metrics of the model (reconstructions for an autoencoder; empty for an LDM). */
  model: MetricTable;
  /** Model-free baselines and the autoencoder ceiling, by name. */
  baselines: Record<string, MetricTable>;
  /** Samples drawn per slice (ControlNet evaluations). */
  samplesPerSlice?: number;
  /** Whether the generated images (and the ceiling) were zeroed outside the FLAIR's brain (ControlNet evaluations). */
  brainMask?: boolean;
  /** Unconditional samples of an LDM: Frechet distance and diversity. */
  sampleQuality?: { samples: number; frechet: FrechetReport; diversity: DiversityReport | null };
  /** Wall seconds spent sampling, and per slice. */
  samplingSeconds: number;
  secondsPerSlice: number;
  normalisation: { method: string; percentiles: [number, number] | null; slices: string };
  steps: number;
  seed: number;
  notes: string[];
}

function lesionBatch(records: PreparedRecord[], masks: Record<string, string> | undefined): Promise<Float32Array | null> | null {
  if (!masks || records.length === 0) return null;
  if (!records.every((r) => masks[r.subject])) return null;
  return (async () => {
    const cache = new Map<string, LasVolume>();
    const out = new Float32Array(records.length * SLICE_PIXELS);
    for (const [i, r] of records.entries()) {
      let vol = cache.get(r.subject);
      if (!vol) {
        vol = await readLasVolume(masks[r.subject]!);
        cache.set(r.subject, vol);
      }
      extractAxialSlice(vol.data, vol.dims, r.z, out.subarray(i * SLICE_PIXELS, (i + 1) * SLICE_PIXELS));
    }
    return out;
  })();
}

export interface SplitData {
  count: number;
  flair: Float32Array;
  t1w: Float32Array;
  records: PreparedRecord[];
  shape: number[];
  index: ReturnType<typeof loadPreparedSlices>['index'];
  /** Slices of the split left out because they have no signal. */
  skipped: number;
}

/** `k` indices into `0..count-1`, evenly spaced (each the middle of its share); all of them when k >= count. */
export function evenlySpacedIndices(count: number, k: number): number[] {
  const n = Math.min(count, Math.max(0, Math.floor(k)));
  return Array.from({ length: n }, (_, i) => Math.floor(((i + 0.5) * count) / n));
}

export function loadSplit(datasetDir: string, split: SplitName, limit?: number): SplitData {
  const evalSet = loadPreparedSlices(datasetDir, { split });
  // Slices without signal (an (almost) empty FLAIR or T1w) have nothing to translate or reconstruct: skipped, not hallucinated.
  const keep: number[] = [];
  for (let i = 0; i < evalSet.count; i++) {
    if (hasSignal(evalSet.flair, i) && hasSignal(evalSet.t1w, i)) keep.push(i);
  }
  const chosen = limit !== undefined ? evenlySpacedIndices(keep.length, limit).map((i) => keep[i]!) : keep;
  const count = chosen.length;
  if (evalSet.count === 0) throw new Error(`${datasetDir}: the ${split} split has no slices to evaluate`);
  if (count === 0) throw new Error(`${datasetDir}: none of the ${evalSet.count} slices of the ${split} split has signal (an almost empty FLAIR or T1w), so there is nothing to evaluate`);
  const flair = new Float32Array(count * SLICE_PIXELS);
  const t1w = new Float32Array(count * SLICE_PIXELS);
  chosen.forEach((src, n) => {
    flair.set(evalSet.flair.subarray(src * SLICE_PIXELS, (src + 1) * SLICE_PIXELS), n * SLICE_PIXELS);
    t1w.set(evalSet.t1w.subarray(src * SLICE_PIXELS, (src + 1) * SLICE_PIXELS), n * SLICE_PIXELS);
  });
  return {
    count,
    flair,
    t1w,
    records: chosen.map((i) => evalSet.records[i]!),
    shape: [count, SLICE_HEIGHT, SLICE_WIDTH],
    index: evalSet.index,
    skipped: evalSet.count - keep.length,
  };
}

function hasSignal(images: Float32Array, i: number): boolean {
  return hasSliceSignal(images.subarray(i * SLICE_PIXELS, (i + 1) * SLICE_PIXELS));
}

/** The note for skipped empty slices, if any. */
export function skippedNote(d: SplitData): string[] {
  return d.skipped > 0 ? [`${d.skipped} slice(s) of the split without signal (an almost empty FLAIR or T1w) were skipped`] : [];
}

/** Predictions of the model-free baselines for every slice, fitted on the train split only. */
function baselinePredictions(datasetDir: string, d: SplitData): Record<BaselineName, Float32Array> {
  const train = loadPreparedSlices(datasetDir, { split: 'train' });
  if (train.count === 0) throw new Error(`${datasetDir}: the train split is empty, so the baselines cannot be fitted`);
  const trainPairs = Array.from({ length: train.count }, (_, i) => ({
    flair: train.flair.subarray(i * SLICE_PIXELS, (i + 1) * SLICE_PIXELS),
    t1w: train.t1w.subarray(i * SLICE_PIXELS, (i + 1) * SLICE_PIXELS),
  }));
  const lut = fitIntensityLookupTable(trainPairs);
  const reference = fitReferenceDistribution(trainPairs.map((q) => q.t1w));
  const lutPred = new Float32Array(d.count * SLICE_PIXELS);
  const histPred = new Float32Array(d.count * SLICE_PIXELS);
  for (let i = 0; i < d.count; i++) {
    const f = d.flair.subarray(i * SLICE_PIXELS, (i + 1) * SLICE_PIXELS);
    lutPred.set(applyIntensityLookupTable(f, lut), i * SLICE_PIXELS);
    histPred.set(invertedHistogramMatchedFlair(f, reference), i * SLICE_PIXELS);
  }
  return { baseline_lut: lutPred, baseline_histmatch: histPred };
}

export async function metricOptions(d: SplitData, masks: Record<string, string> | undefined, notes: string[]) {
  const lesion = await lesionBatch(d.records, masks);
  if (masks && !lesion) notes.push('lesion columns omitted: not every evaluated subject has a lesion mask');
  // Brain = where the real T1w has signal, so "outside the lesion" excludes the empty background.
  return lesion ? { lesion: { data: lesion, shape: d.shape }, brain: { data: d.t1w, shape: d.shape } } : {};
}

/**
 * Only the model-free baselines on a split (no model): how far "doing nothing clever" gets on
 * this data, e.g. before any model is trained.
 */
export async function evaluateBaselinesOnly(opts: Pick<EvaluationOptions, 'datasetDir' | 'split' | 'limit' | 'lesionMasks'>): Promise<{ images: number; baselines: Record<BaselineName, MetricTable>; notes: string[] }> {
  const d = loadSplit(opts.datasetDir, opts.split, opts.limit);
  const notes: string[] = skippedNote(d);
  const preds = baselinePredictions(opts.datasetDir, d);
  const mo = await metricOptions(d, opts.lesionMasks, notes);
  const target = { data: d.t1w, shape: d.shape };
  return {
    images: d.count,
    baselines: {
      baseline_lut: evaluatePairs({ data: preds.baseline_lut, shape: d.shape }, target, mo),
      baseline_histmatch: evaluatePairs({ data: preds.baseline_histmatch, shape: d.shape }, target, mo),
    },
    notes,
  };
}

/** Runs the evaluation; `pipeline` must carry a ControlNet. */
export async function evaluateSplit(p: SamplingPipeline, opts: EvaluationOptions): Promise<EvaluationOutput> {
  const seed = opts.seed ?? 0;
  const steps = opts.steps ?? 200;
  const d = loadSplit(opts.datasetDir, opts.split, opts.limit);
  const notes: string[] = skippedNote(d);
  const { count, flair, t1w, records, shape } = d;
  opts.onProgress?.({ phase: 'baselines', done: 0, total: count });
  // A dataset with an empty train split (a test-only site) has nothing to fit the baselines on.
  const hasTrain = d.index.records.some((r) => r.split === 'train');
  if (!hasTrain) notes.push('model-free baselines omitted: the train split of the evaluated dataset is empty, so there is nothing to fit them on');
  const preds = hasTrain ? baselinePredictions(opts.datasetDir, d) : null;

  // Sample k of slice i uses seed + k * count + i, so sample 0 is the single-sample evaluation.
  const seeds = records.map((_, i) => seed + i);
  const perSlice = Math.max(1, Math.floor(opts.samplesPerSlice ?? 1));
  const brainMask = opts.brainMask ?? p.info.brainMask;
  const started = performance.now();
  let done = 0;
  const total = count * perSlice;
  let generated: Float32Array | null = null;
  const sum = perSlice > 1 ? new Float64Array(count * SLICE_PIXELS) : null;
  const sumSq = perSlice > 1 ? new Float64Array(count * SLICE_PIXELS) : null;
  for (let k = 0; k < perSlice; k++) {
    const sample = await translateGridSlices(p, flair, {
      seeds: seeds.map((s) => s + k * count),
      steps,
      sampler: opts.sampler,
      guidanceScale: opts.guidanceScale,
      conditioningScale: opts.conditioningScale,
      brainMask,
      batch: opts.batch,
      shouldStop: opts.shouldStop,
      onStep: (step, stepsTotal) => opts.onProgress?.({ phase: 'sampling', done, total, step, steps: stepsTotal }),
      onBatch: (d) => {
        done = k * count + d;
        opts.onProgress?.({ phase: 'sampling', done, total });
      },
    });
    if (k === 0) generated = sample;
    if (sum && sumSq) {
      for (let j = 0; j < sample.length; j++) {
        sum[j] += sample[j]!;
        sumSq[j] += sample[j]! * sample[j]!;
      }
    }
  }
  const single = generated!;
  let posteriorMean: Float32Array | null = null;
  let stdMap: Float32Array | null = null;
  if (sum && sumSq) {
    posteriorMean = new Float32Array(sum.length);
    stdMap = new Float32Array(sum.length);
    for (let j = 0; j < sum.length; j++) {
      const m = sum[j]! / perSlice;
      posteriorMean[j] = m;
      stdMap[j] = Math.sqrt(Math.max(0, sumSq[j]! / perSlice - m * m));
    }
  }
  const samplingSeconds = (performance.now() - started) / 1000;

  opts.onProgress?.({ phase: 'reconstruction', done: 0, total: count });
  const ceiling = await reconstructGridSlices(p.ae, t1w, count, {
    imageSize: p.info.imageSize,
    batch: opts.batch,
    shouldStop: opts.shouldStop,
    onBatch: (done, total) => opts.onProgress?.({ phase: 'reconstruction', done, total }),
  });
  if (brainMask) {
    maskToConditionBrain(ceiling, flair, count, SLICE_HEIGHT, SLICE_WIDTH);
    notes.push("generated images and the autoencoder ceiling are zeroed outside each FLAIR slice's brain (its non-zero pixels and the holes they enclose)");
  }

  opts.onProgress?.({ phase: 'metrics', done: 0, total: count });
  const metricOpts = await metricOptions(d, opts.lesionMasks, notes);
  const target = { data: t1w, shape };
  const model = evaluatePairs({ data: single, shape }, target, metricOpts);
  const baselines: Record<string, MetricTable> = {
    ...(preds
      ? {
          baseline_lut: evaluatePairs({ data: preds.baseline_lut, shape }, target, metricOpts),
          baseline_histmatch: evaluatePairs({ data: preds.baseline_histmatch, shape }, target, metricOpts),
        }
      : {}),
    [AE_CEILING]: evaluatePairs({ data: ceiling, shape }, target, metricOpts),
  };
  if (posteriorMean) baselines[POSTERIOR_MEAN] = evaluatePairs({ data: posteriorMean, shape }, target, metricOpts);
  notes.push(...model.notes);

  const images: EvaluatedImage[] = records.map((r, i) => ({
    index: i,
    subject: r.subject,
    session: r.session,
    z: r.z,
    mniZ: r.mniZ,
    lesionPixels: r.lesionPixels,
    seed: seeds[i]!,
    imagePath: null,
  }));
  if (opts.imagesDir) {
    mkdirSync(opts.imagesDir, { recursive: true });
    const img = (data: Float32Array, i: number) => ({ height: SLICE_HEIGHT, width: SLICE_WIDTH, data: data.subarray(i * SLICE_PIXELS, (i + 1) * SLICE_PIXELS) });
    for (const im of images) {
      const path = join(opts.imagesDir, `${String(im.index).padStart(5, '0')}_${im.subject}_z${im.z}.png`);
      writePng(path, tileImages([[img(flair, im.index), img(single, im.index), img(t1w, im.index)]]));
      im.imagePath = path;
      if (stdMap) {
        const std = img(stdMap, im.index).data.map((v) => Math.min(1, v * STD_MAP_GAIN));
        im.stdMapPath = path.replace(/\.png$/, '_std.png');
        writePng(im.stdMapPath, { height: SLICE_HEIGHT, width: SLICE_WIDTH, data: std });
      }
    }
  }
  opts.onProgress?.({ phase: 'metrics', done: count, total: count });
  const index = d.index;
  return {
    stage: 'controlnet',
    split: opts.split,
    images,
    model,
    baselines,
    samplingSeconds,
    secondsPerSlice: samplingSeconds / total,
    samplesPerSlice: perSlice,
    brainMask,
    normalisation: { method: index.normalisation, percentiles: index.percentiles, slices: index.slices },
    steps,
    seed,
    notes,
  };
}

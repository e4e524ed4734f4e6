/**
 * Evaluations of the first two stages on one split of a prepared dataset, in the same output shape
 * as the ControlNet evaluation (evaluation.ts):
 *  - autoencoder: the reconstruction decode(encode(T1w)) of every real T1w slice of the split,
 *    PSNR / MAE / MS-SSIM per image on the 160x224 grid (the reference's MS-SSIM 0.9876), saved
 *    as real | reconstruction pairs;
 *  - LDM: K unconditional samples (seed + k), Frechet distance against the split's real T1w
 *    slices on a user-chosen feature network, and MS-SSIM diversity over sample pairs (the
 *    reference's FID and mean pairwise MS-SSIM), the samples saved as images. The autoencoder
 *    ceiling is scored too: the same Frechet distance for the reconstructions of the real slices.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SLICE_HEIGHT, SLICE_PIXELS, SLICE_WIDTH } from '../data/slices';
import { tileImages, writePng } from '../io/png';
import { evaluatePairs, summarize, type MetricTable } from '../metrics';
import type { AutoencoderKL } from '../networks/autoencoder-kl';
import { seedRange, type SamplingPipeline } from '../pipeline';
import { AE_CEILING, loadSplit, metricOptions, skippedNote, type EvaluatedImage, type EvaluationOptions, type EvaluationOutput } from './evaluation';
import { reconstructGridSlices } from './reconstruction';
import { upsampleBilinear } from './resize';
import { frechetNotComputed, frechetOnNetwork, realImageKey, sampleDiversity, type FeatureNetworkChoice } from './sample-quality';
import { sampleUnconditional } from './sampler';
import { GRID } from './volume';

type CommonOptions = Pick<EvaluationOptions, 'datasetDir' | 'split' | 'seed' | 'limit' | 'batch' | 'lesionMasks' | 'imagesDir' | 'onProgress' | 'shouldStop'>;

const img = (data: Float32Array, i: number) => ({ height: SLICE_HEIGHT, width: SLICE_WIDTH, data: data.subarray(i * SLICE_PIXELS, (i + 1) * SLICE_PIXELS) });

function normalisationOf(index: ReturnType<typeof loadSplit>['index']): EvaluationOutput['normalisation'] {
  return { method: index.normalisation, percentiles: index.percentiles, slices: index.slices };
}

/** Reconstruction metrics of an autoencoder on the split's real T1w slices. */
export async function evaluateAutoencoder(ae: AutoencoderKL, imageSize: [number, number], opts: CommonOptions): Promise<EvaluationOutput> {
  const d = loadSplit(opts.datasetDir, opts.split, opts.limit);
  const notes: string[] = ['reconstructions use the posterior mean: decode(mu(encode(T1w)))', ...skippedNote(d)];
  const started = performance.now();
  const rec = await reconstructGridSlices(ae, d.t1w, d.count, {
    imageSize,
    batch: opts.batch,
    shouldStop: opts.shouldStop,
    onBatch: (done, total) => opts.onProgress?.({ phase: 'reconstruction', done, total }),
  });
  const seconds = (performance.now() - started) / 1000;
  opts.onProgress?.({ phase: 'metrics', done: 0, total: d.count });
  const model = evaluatePairs({ data: rec, shape: d.shape }, { data: d.t1w, shape: d.shape }, await metricOptions(d, opts.lesionMasks, notes));
  notes.push(...model.notes);
  const images: EvaluatedImage[] = d.records.map((r, i) => ({ index: i, subject: r.subject, session: r.session, z: r.z, mniZ: r.mniZ, lesionPixels: r.lesionPixels, seed: 0, imagePath: null }));
  if (opts.imagesDir) {
    mkdirSync(opts.imagesDir, { recursive: true });
    for (const im of images) {
      const path = join(opts.imagesDir, `${String(im.index).padStart(5, '0')}_${im.subject}_z${im.z}.png`);
      writePng(path, tileImages([[img(d.t1w, im.index), img(rec, im.index)]]));
      im.imagePath = path;
    }
  }
  return {
    stage: 'autoencoder',
    split: opts.split,
    images,
    model,
    baselines: {},
    samplingSeconds: seconds,
    secondsPerSlice: seconds / d.count,
    normalisation: normalisationOf(d.index),
    steps: 0,
    seed: opts.seed ?? 0,
    notes,
  };
}

export interface LdmEvaluationOptions extends CommonOptions {
  /** Unconditional samples to draw (seed + k). */
  samples: number;
  steps?: number;
  sampler?: EvaluationOptions['sampler'];
  /** The feature network for the Frechet distance; without one it is not computed. */
  features?: FeatureNetworkChoice;
}

const EMPTY_TABLE: MetricTable = { columns: [], values: {}, summary: {}, notes: [] };

/** Unconditional samples of an LDM pipeline scored against the split's real T1w slices. */
export async function evaluateLdm(p: SamplingPipeline, opts: LdmEvaluationOptions): Promise<EvaluationOutput> {
  const seed = opts.seed ?? 0;
  const steps = opts.steps ?? 200;
  const k = Math.floor(opts.samples);
  if (!(k >= 1)) throw new Error(`an LDM evaluation needs at least 1 sample, got ${opts.samples}`);
  const d = loadSplit(opts.datasetDir, opts.split, opts.limit);
  const notes: string[] = skippedNote(d);
  const [h, w] = p.info.imageSize;
  const seeds = seedRange(seed, k);
  const batch = Math.max(1, Math.floor(opts.batch ?? 4));
  const samples = new Float32Array(k * SLICE_PIXELS);
  const started = performance.now();
  for (let start = 0; start < k; start += batch) {
    const part = seeds.slice(start, start + batch);
    const small = await sampleUnconditional(p, {
      seeds: part,
      steps,
      sampler: opts.sampler,
      shouldStop: opts.shouldStop,
      onStep: (step, total) => opts.onProgress?.({ phase: 'sampling', done: start, total: k, step, steps: total }),
    });
    samples.set(upsampleBilinear(small, part.length, { height: h, width: w }, GRID), start * SLICE_PIXELS);
    opts.onProgress?.({ phase: 'sampling', done: start + part.length, total: k });
  }
  const samplingSeconds = (performance.now() - started) / 1000;

  opts.onProgress?.({ phase: 'metrics', done: 0, total: k });
  const sampleBatch = { data: samples, shape: [k, SLICE_HEIGHT, SLICE_WIDTH] };
  const real = { data: d.t1w, shape: d.shape };
  const diversity = sampleDiversity(sampleBatch);
  if (!diversity) notes.push('diversity not computed: it needs at least 2 samples');
  let frechet = frechetNotComputed('no feature network given (--features model.json): a Frechet distance is only meaningful on a named network', k, d.count);
  const baselines: Record<string, MetricTable> = {};
  if (opts.features) {
    opts.onProgress?.({ phase: 'features', done: 0, total: k + d.count });
    const key = realImageKey(opts.datasetDir, opts.split, d.count);
    frechet = await frechetOnNetwork(opts.features, sampleBatch, real, key);
    if (frechet.computed) {
      // The ceiling: the same distance for the autoencoder's reconstructions of the real slices.
      const rec = await reconstructGridSlices(p.ae, d.t1w, d.count, { imageSize: p.info.imageSize, batch, shouldStop: opts.shouldStop });
      const ceiling = await frechetOnNetwork({ ...opts.features, cacheDir: undefined }, { data: rec, shape: d.shape }, real, key);
      if (ceiling.computed && ceiling.name) {
        const v = Float64Array.of(ceiling.value!);
        baselines[AE_CEILING] = { columns: [ceiling.name], values: { [ceiling.name]: v }, summary: { [ceiling.name]: summarize(v) }, notes: [] };
      }
    }
  }
  if (frechet.reason) notes.push(`Frechet distance not computed: ${frechet.reason}`);
  if (frechet.warning) notes.push(`WARNING: ${frechet.warning}`);

  const images: EvaluatedImage[] = seeds.map((s, i) => ({ index: i, subject: '', session: null, z: -1, mniZ: NaN, lesionPixels: null, seed: s, imagePath: null }));
  if (opts.imagesDir) {
    mkdirSync(opts.imagesDir, { recursive: true });
    for (const im of images) {
      const path = join(opts.imagesDir, `sample_${String(im.index).padStart(5, '0')}_seed${im.seed}.png`);
      writePng(path, img(samples, im.index));
      im.imagePath = path;
    }
  }
  opts.onProgress?.({ phase: 'metrics', done: k, total: k });
  return {
    stage: 'ldm',
    split: opts.split,
    images,
    model: EMPTY_TABLE,
    baselines,
    sampleQuality: { samples: k, frechet, diversity },
    samplingSeconds,
    secondsPerSlice: samplingSeconds / k,
    normalisation: normalisationOf(d.index),
    steps,
    seed,
    notes,
  };
}

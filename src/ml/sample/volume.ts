/**
 * Whole-volume FLAIR -> T1w translation and the slice-grid helpers it shares with the Generate
 * service and evaluation runs.
 *
 * Path of one axial slice z (LAS, the order src/ml/data/slices.ts defines the 160x224 mapping in):
 *   FLAIR volume -> extractAxialSlice (crop/pad to 160x224, negatives clipped to 0)
 *   -> normalise with the dataset's method (reference min-max over the dataset's slice band, or
 *      percentile clipping) -> box-average to the model's size (e.g. 80x112 for desktop models)
 *   -> sample (seed + z) -> bilinear back to 160x224 -> zeroed outside the FLAIR's brain when the
 *      run masks (brain-mask.ts) -> written into the volume at the voxels the mapping read (voxels
 *      outside the 160x224 window, and padding, stay 0).
 * Slices with (almost) no FLAIR signal inside the window (hasSliceSignal) are not sampled (they stay 0). The output has the
 * input's dims, affine, orientation and xform codes: it opens in any viewer on top of the input.
 */
import { basename } from 'node:path';
import { readNifti, writeNifti } from '../data/nifti';
import { applyReorientation, planReorientation } from '../data/orientation';
import { toLas, type LasVolume } from '../data/prepare';
import {
  SLICE_HEIGHT,
  SLICE_PIXELS,
  SLICE_WIDTH,
  extractAxialSlice,
  minMaxStats,
  normaliseSlice,
  parseSlicePreset,
  percentileStats,
  selectSlices,
  sliceMapping,
  validMask,
  type Normalisation,
  type NormalisationStats,
} from '../data/slices';
import { hasSliceSignal } from '../data/slice-signal';
import { maskToConditionBrain } from './brain-mask';
import { downsampleBox, upsampleBilinear } from './resize';
import type { SamplingPipeline } from '../pipeline';
import { translateSlices, type SamplingOptions } from './sampler';

export const GRID = { height: SLICE_HEIGHT, width: SLICE_WIDTH } as const;

/** How the model's dataset scaled its inputs (PreparedIndex.normalisation / percentiles / slices). */
export interface NormalisationSpec {
  method: Normalisation;
  percentiles?: [number, number] | null;
  /** The dataset's slice preset: min-max is taken over this band, as in preparation. */
  slices?: string;
}

export interface GridSamplingOptions extends SamplingOptions {
  /** Slices per forward pass (default 4). */
  batch?: number;
  onBatch?(done: number, total: number): void;
  /** Zero the output outside each FLAIR slice's brain (brain-mask.ts); default: the pipeline's. */
  brainMask?: boolean;
}

/**
 * 160x224 grid slices (count x 160 x 224, [0,1]) -> synthetic T1w on the same grid, sampled at the
 * pipeline's size. One seed per slice; `batch` slices per forward pass.
 */
export async function translateGridSlices(
  p: SamplingPipeline,
  flair: Float32Array,
  opts: GridSamplingOptions,
): Promise<Float32Array> {
  const count = opts.seeds.length;
  if (flair.length !== count * SLICE_PIXELS) throw new Error(`expected ${count} slices of 160x224, got ${flair.length} values`);
  const model = { height: p.info.imageSize[0], width: p.info.imageSize[1] };
  const batch = Math.max(1, Math.floor(opts.batch ?? 4));
  const brainMask = opts.brainMask ?? p.info.brainMask;
  const out = new Float32Array(count * SLICE_PIXELS);
  for (let start = 0; start < count; start += batch) {
    const n = Math.min(batch, count - start);
    const small = downsampleBox(flair.subarray(start * SLICE_PIXELS, (start + n) * SLICE_PIXELS), n, GRID, model);
    const generated = await translateSlices(p, small, { ...opts, seeds: opts.seeds.slice(start, start + n) });
    const up = upsampleBilinear(generated, n, model, GRID);
    if (brainMask) maskToConditionBrain(up, flair.subarray(start * SLICE_PIXELS, (start + n) * SLICE_PIXELS), n, GRID.height, GRID.width);
    out.set(up, start * SLICE_PIXELS);
    opts.onBatch?.(start + n, count);
  }
  return out;
}

/** Normalisation statistics for a FLAIR volume, computed as data preparation would. */
export function flairStats(flair: LasVolume, spec: NormalisationSpec): NormalisationStats {
  if (spec.method === 'percentile') return percentileStats(flair.data, spec.percentiles ?? undefined);
  const zs = selectSlices(parseSlicePreset(spec.slices ?? 'brain-band'), flair.dims, flair.data, flair.data);
  const block = zs.map((z) => extractAxialSlice(flair.data, flair.dims, z));
  return minMaxStats(block, validMask(flair.dims));
}

/** Every axial slice of a LAS volume on the 160x224 grid, normalised; plus which have signal (hasSliceSignal). */
export function normalisedAxialSlices(vol: LasVolume, stats: NormalisationStats): { slices: Float32Array; nonEmpty: boolean[] } {
  const nz = vol.dims[2];
  const valid = validMask(vol.dims);
  const slices = new Float32Array(nz * SLICE_PIXELS);
  const nonEmpty: boolean[] = [];
  for (let z = 0; z < nz; z++) {
    const s = extractAxialSlice(vol.data, vol.dims, z, slices.subarray(z * SLICE_PIXELS, (z + 1) * SLICE_PIXELS));
    normaliseSlice(s, stats, valid);
    nonEmpty.push(hasSliceSignal(s));
  }
  return { slices, nonEmpty };
}

/** Writes 160x224 grid slices back into a LAS volume (inverse of extractAxialSlice; outside = 0). */
export function gridSlicesToVolume(slices: Float32Array, dims: readonly [number, number, number], zs: readonly number[]): Float32Array {
  const [nx, ny, nz] = dims;
  const { xStart, yStart } = sliceMapping(dims);
  const out = new Float32Array(nx * ny * nz);
  zs.forEach((z, k) => {
    const src = k * SLICE_PIXELS;
    const plane = nx * ny * z;
    for (let r = 0; r < SLICE_HEIGHT; r++) {
      const x = r + xStart;
      if (x < 0 || x >= nx) continue;
      for (let c = 0; c < SLICE_WIDTH; c++) {
        const y = c + yStart;
        if (y >= 0 && y < ny) out[plane + x + nx * y] = slices[src + r * SLICE_WIDTH + c]!;
      }
    }
  });
  return out;
}

export interface TranslateVolumeOptions extends Omit<GridSamplingOptions, 'seeds' | 'onStep' | 'onBatch'> {
  seed?: number;
  normalisation: NormalisationSpec;
  onProgress?(p: { done: number; total: number; skipped: number; step: number; steps: number }): void;
}

export interface TranslateVolumeResult {
  outPath: string;
  dims: [number, number, number];
  sampledSlices: number;
  skippedSlices: number;
  seconds: number;
  secondsPerSlice: number | null;
  stats: NormalisationStats;
}

/** Translates every axial slice of a FLAIR NIfTI and writes the synthetic T1w NIfTI (atomically). */
export async function translateVolume(p: SamplingPipeline, flairPath: string, outPath: string, opts: TranslateVolumeOptions): Promise<TranslateVolumeResult> {
  const started = performance.now();
  const input = await readNifti(flairPath);
  if (input.frames > 1) throw new Error(`${basename(flairPath)}: has ${input.frames} volumes; translate one 3-D FLAIR volume`);
  const las = toLas(input);
  const stats = flairStats(las, opts.normalisation);
  const { slices, nonEmpty } = normalisedAxialSlices(las, stats);
  const zs = nonEmpty.flatMap((ok, z) => (ok ? [z] : []));
  const skipped = nonEmpty.length - zs.length;
  const seed = opts.seed ?? 0;
  const picked = new Float32Array(zs.length * SLICE_PIXELS);
  zs.forEach((z, k) => picked.set(slices.subarray(z * SLICE_PIXELS, (z + 1) * SLICE_PIXELS), k * SLICE_PIXELS));
  let done = 0;
  const batch = Math.max(1, Math.floor(opts.batch ?? 4));
  opts.onProgress?.({ done: 0, total: zs.length, skipped, step: 0, steps: 0 });
  const generated = zs.length
    ? await translateGridSlices(p, picked, {
        ...opts,
        seeds: zs.map((z) => seed + z),
        batch,
        onStep: (step, steps) => opts.onProgress?.({ done, total: zs.length, skipped, step, steps }),
        onBatch: (d) => {
          done = d;
          opts.onProgress?.({ done, total: zs.length, skipped, step: 0, steps: 0 });
        },
      })
    : new Float32Array(0);
  const lasOut = gridSlicesToVolume(generated, las.dims, zs);
  // Back to the input's own storage order, so dims and affine equal the input's.
  const back = planReorientation(las.affine, las.dims, input.orientation);
  const data = applyReorientation(lasOut, las.dims, back);
  writeNifti(outPath, { dims: back.dims, data }, input.affine, {
    qformCode: input.qformCode,
    sformCode: input.sformCode,
    description: 'brainsynth synthetic T1w',
  });
  const seconds = (performance.now() - started) / 1000;
  return {
    outPath,
    dims: back.dims,
    sampledSlices: zs.length,
    skippedSlices: skipped,
    seconds,
    secondsPerSlice: zs.length ? seconds / zs.length : null,
    stats,
  };
}

/**
 * Axial slice extraction on LAS volumes (the FSL MNI152 storage order).
 *
 * Mapping to the model's 160x224 grid (rows = first voxel axis x, cols = second voxel axis y, as
 * the reference's tensor[0, r, c] = vol[16 + r, 16 + c, z]): each axis is centre-cropped or
 * zero-padded with start = floor((n - target) / 2), so
 *   FSL 1 mm 182x218:  row r <- x = r + 11 (x 11..170, crop 182 -> 160),
 *                      col c <- y = c - 3  (pad 218 -> 224 with 3 zero columns each side).
 * Values are taken exactly (no resampling); negatives are clipped to 0 before normalisation.
 */
import type { Affine } from './orientation';
import { voxelToWorld } from './orientation';

export const SLICE_HEIGHT = 160;
export const SLICE_WIDTH = 224;
export const SLICE_PIXELS = SLICE_HEIGHT * SLICE_WIDTH;

export interface SliceMapping {
  /** x index read by row 0 (negative = zero padding). */
  xStart: number;
  /** y index read by column 0 (negative = zero padding). */
  yStart: number;
}

export function sliceMapping(dims: readonly number[]): SliceMapping {
  return { xStart: Math.floor((dims[0]! - SLICE_HEIGHT) / 2), yStart: Math.floor((dims[1]! - SLICE_WIDTH) / 2) };
}

/**
 * One axial slice as 160x224 row-major; voxels outside the volume are NaN-free zeros and
 * `valid[r*224+c]` (when given) marks which pixels came from the volume.
 */
export function extractAxialSlice(data: Float32Array, dims: readonly number[], z: number, out = new Float32Array(SLICE_PIXELS)): Float32Array {
  const [nx, ny, nz] = dims as [number, number, number];
  if (!(z >= 0 && z < nz)) throw new RangeError(`slice z=${z} outside 0..${nz - 1}`);
  const { xStart, yStart } = sliceMapping(dims);
  const plane = nx * ny * z;
  for (let r = 0; r < SLICE_HEIGHT; r++) {
    const x = r + xStart;
    const rowOffset = r * SLICE_WIDTH;
    if (x < 0 || x >= nx) {
      out.fill(0, rowOffset, rowOffset + SLICE_WIDTH);
      continue;
    }
    for (let c = 0; c < SLICE_WIDTH; c++) {
      const y = c + yStart;
      out[rowOffset + c] = y < 0 || y >= ny ? 0 : Math.max(0, data[plane + x + nx * y]!);
    }
  }
  return out;
}

/** Count of in-plane voxels with signal (> 0) inside the 160x224 window, per axial slice. */
export function brainAreaPerSlice(data: Float32Array, dims: readonly number[]): number[] {
  const [nx, ny, nz] = dims as [number, number, number];
  const { xStart, yStart } = sliceMapping(dims);
  const x0 = Math.max(0, xStart);
  const x1 = Math.min(nx, xStart + SLICE_HEIGHT);
  const y0 = Math.max(0, yStart);
  const y1 = Math.min(ny, yStart + SLICE_WIDTH);
  const areas: number[] = [];
  for (let z = 0; z < nz; z++) {
    let count = 0;
    for (let y = y0; y < y1; y++) {
      const base = nx * (y + ny * z);
      for (let x = x0; x < x1; x++) if (data[base + x]! > 0) count++;
    }
    areas.push(count);
  }
  return areas;
}

export type SlicePreset =
  | { kind: 'reference' }
  | { kind: 'brain-band'; minBrainFraction?: number }
  | { kind: 'range'; start: number; stop: number };

/** Parses the CLI form: 'reference' | 'brain-band' | 'brain-band:0.3' | 'A:B' (python-style, B exclusive). */
export function parseSlicePreset(text: string): SlicePreset {
  const t = text.trim();
  if (t === 'reference') return { kind: 'reference' };
  if (t === 'brain-band') return { kind: 'brain-band' };
  const band = /^brain-band:([0-9.]+)$/.exec(t);
  if (band) {
    const f = Number(band[1]);
    if (!(f > 0 && f <= 1)) throw new Error(`--slices ${text}: the brain fraction must be in (0, 1]`);
    return { kind: 'brain-band', minBrainFraction: f };
  }
  const range = /^(\d+):(\d+)$/.exec(t);
  if (range) {
    const start = Number(range[1]);
    const stop = Number(range[2]);
    if (stop <= start) throw new Error(`--slices ${text}: stop must be greater than start (A:B takes slices A..B-1)`);
    return { kind: 'range', start, stop };
  }
  throw new Error(`--slices ${text}: expected reference, brain-band[:fraction] or A:B`);
}

export function describePreset(p: SlicePreset): string {
  if (p.kind === 'reference') return 'reference';
  if (p.kind === 'range') return `${p.start}:${p.stop}`;
  return p.minBrainFraction === undefined ? 'brain-band' : `brain-band:${p.minBrainFraction}`;
}

export const DEFAULT_BRAIN_FRACTION = 0.25;

/**
 * Axial indices (LAS z) for one subject.
 * - reference: 5 adjacent slices centred on the middle slice (z = floor(nz/2)-2 .. +2), mirroring
 *   the reference's 5 adjacent central slices.
 * - brain-band: every slice whose brain area (FLAIR or T1w > 0 inside the 160x224 window) is at
 *   least `minBrainFraction` of that subject's largest axial brain area: drops the thin caps.
 * - range: start..stop-1, clipped to the volume.
 */
export function selectSlices(preset: SlicePreset, dims: readonly number[], flair: Float32Array, t1w: Float32Array): number[] {
  const nz = dims[2]!;
  if (preset.kind === 'reference') {
    const start = Math.floor(nz / 2) - 2;
    return [0, 1, 2, 3, 4].map((i) => start + i);
  }
  if (preset.kind === 'range') {
    if (preset.start >= nz) throw new Error(`slice range ${preset.start}:${preset.stop} is outside the volume (nz=${nz})`);
    const out: number[] = [];
    for (let z = preset.start; z < Math.min(preset.stop, nz); z++) out.push(z);
    return out;
  }
  const a = brainAreaPerSlice(flair, dims);
  const b = brainAreaPerSlice(t1w, dims);
  const area = a.map((v, i) => Math.max(v, b[i]!));
  const peak = Math.max(...area);
  if (peak === 0) return [];
  const fraction = preset.minBrainFraction ?? DEFAULT_BRAIN_FRACTION;
  return area.flatMap((v, z) => (v >= fraction * peak ? [z] : []));
}

/** MNI z (mm) of axial slice z on a LAS grid (world z at the slice's first voxel). */
export function mniZ(affine: Affine, z: number): number {
  return +voxelToWorld(affine, 0, 0, z)[2].toFixed(3);
}

export type Normalisation = 'minmax' | 'percentile';

export interface NormalisationStats {
  method: Normalisation;
  low: number;
  high: number;
  /** For percentile: the percentiles used. */
  percentiles?: [number, number];
}

/**
 * Reference min-max over the extracted block: (v - min) / (max - min) in float32 steps (as numpy
 * float32 does), over pixels that came from the volume (zero padding is not part of the reference
 * block and stays 0). Block values are already clipped to >= 0.
 */
export function minMaxStats(block: Float32Array[], valid?: Uint8Array): NormalisationStats {
  let low = Infinity;
  let high = -Infinity;
  for (const s of block) {
    for (let i = 0; i < s.length; i++) {
      if (valid && !valid[i]) continue;
      const v = s[i]!;
      if (v < low) low = v;
      if (v > high) high = v;
    }
  }
  if (!Number.isFinite(low)) return { method: 'minmax', low: 0, high: 1 };
  return { method: 'minmax', low, high };
}

/**
 * Robust alternative: percentiles (default 0.5 / 99.5) of the voxels with signal (> 0) in the
 * whole volume, then clip to [low, high] and scale to [0, 1] (background and the darkest 0.5% of
 * brain voxels become 0, the brightest 0.5% become 1). One bright outlier no longer
 * darkens the subject (measured on patient19 in data.md).
 */
export function percentileStats(volume: Float32Array, percentiles: [number, number] = [0.5, 99.5]): NormalisationStats {
  // Two passes into a typed array: a whole 1 mm volume has millions of signal voxels.
  let count = 0;
  for (let i = 0; i < volume.length; i++) if (volume[i]! > 0) count++;
  if (count === 0) return { method: 'percentile', low: 0, high: 1, percentiles };
  const sorted = new Float32Array(count);
  for (let i = 0, k = 0; i < volume.length; i++) if (volume[i]! > 0) sorted[k++] = volume[i]!;
  sorted.sort();
  const at = (p: number) => {
    const pos = (p / 100) * (sorted.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(sorted.length - 1, lo + 1);
    return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
  };
  // Background (0) lies below the lower anchor, so normaliseSlice's clip sends it to 0 as well.
  return { method: 'percentile', low: at(percentiles[0]), high: at(percentiles[1]), percentiles };
}

/** Applies stats in place; result in [0, 1]. `valid` marks pixels that came from the volume. */
export function normaliseSlice(slice: Float32Array, stats: NormalisationStats, valid?: Uint8Array): void {
  const low = Math.fround(stats.low);
  const range = Math.fround(stats.high - stats.low);
  if (!(range > 0)) {
    slice.fill(0);
    return;
  }
  for (let i = 0; i < slice.length; i++) {
    if (valid && !valid[i]) {
      slice[i] = 0;
      continue;
    }
    let v = Math.fround(Math.fround(slice[i]! - low) / range);
    if (v < 0) v = 0;
    else if (v > 1) v = 1;
    slice[i] = v;
  }
}

/** Pixels of the 160x224 window that come from a volume of these dims (1) vs padding (0). */
export function validMask(dims: readonly number[]): Uint8Array {
  const { xStart, yStart } = sliceMapping(dims);
  const mask = new Uint8Array(SLICE_PIXELS);
  for (let r = 0; r < SLICE_HEIGHT; r++) {
    const x = r + xStart;
    if (x < 0 || x >= dims[0]!) continue;
    for (let c = 0; c < SLICE_WIDTH; c++) {
      const y = c + yStart;
      if (y >= 0 && y < dims[1]!) mask[r * SLICE_WIDTH + c] = 1;
    }
  }
  return mask;
}

/** The reference's 8-bit conversion: float32 multiply by 255, then truncate (astype uint8). */
export function toUint8Truncated(slice: Float32Array): Uint8Array {
  const out = new Uint8Array(slice.length);
  for (let i = 0; i < slice.length; i++) {
    const v = Math.fround(slice[i]! * 255);
    out[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.floor(v);
  }
  return out;
}

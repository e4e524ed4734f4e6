import * as nifti from 'nifti-reader-js';
import { narrowLossless, rewriteNifti } from './display-datatype';
import { signalBox, type VoxelBox } from './volume-crop';

/**
 * Turns the bytes of a .nii / .nii.gz file into what the viewer needs, away from the page's main
 * thread (it runs in a worker): the uncompressed NIfTI, and an intensity summary of its brain
 * voxels from which display windows are chosen. The summary is written into the header's
 * cal_min/cal_max so that NiiVue shows the robust window at once and skips its own histogram.
 */
export interface IntensityStats {
  /** Smallest and largest finite value (scaled by the header's slope/intercept). */
  min: number;
  max: number;
  /** Value at every 0.5 % of the non-zero voxels: quantiles[i] is percentile i / 2. */
  quantiles: number[];
  /** Non-zero finite voxels the quantiles are taken over (0 when the volume is empty). */
  count: number;
}

export interface DecodedVolume {
  /**
   * The uncompressed NIfTI file (header + data), with cal_min/cal_max set to the default window,
   * its voxels in the smallest datatype that holds every stored value exactly (see display-datatype).
   */
  nii: ArrayBuffer;
  stats: IntensityStats;
  defaultWindow: [number, number];
  /** Grid size (x, y, z). */
  dims: [number, number, number];
  /** Where the volume has signal (see volume-crop), or null when it is empty or not 3D. */
  signal: VoxelBox | null;
}

/** Percentiles of the non-zero voxels the default display window spans. */
export const DEFAULT_WINDOW_PERCENTILES: [number, number] = [0.5, 99.5];

const HISTOGRAM_BINS = 4096;

type Voxels = ArrayLike<number>;

function voxelsOf(datatype: number, image: ArrayBuffer, littleEndian: boolean, file: string): Voxels {
  const hostLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  const needsSwap = littleEndian !== hostLittleEndian;
  const ctor: Record<number, { new (b: ArrayBuffer): Voxels; BYTES_PER_ELEMENT: number }> = {
    2: Uint8Array,
    4: Int16Array,
    8: Int32Array,
    16: Float32Array,
    64: Float64Array,
    256: Int8Array,
    512: Uint16Array,
    768: Uint32Array,
  };
  const C = ctor[datatype];
  if (!C) throw new Error(`${file}: NIfTI datatype ${datatype} is not supported by the viewer`);
  if (needsSwap && C.BYTES_PER_ELEMENT > 1) {
    const bytes = new Uint8Array(image.slice(0));
    const n = C.BYTES_PER_ELEMENT;
    for (let i = 0; i < bytes.length; i += n) bytes.subarray(i, i + n).reverse();
    return new C(bytes.buffer);
  }
  return new C(image.byteLength % C.BYTES_PER_ELEMENT === 0 ? image : image.slice(0, image.byteLength - (image.byteLength % C.BYTES_PER_ELEMENT)));
}

/** Quantiles (every 0.5 %) of the non-zero finite values of `voxels * slope + inter`, from a histogram. */
export function intensityStats(voxels: Voxels, slope = 1, inter = 0): IntensityStats {
  const s = slope === 0 || !Number.isFinite(slope) ? 1 : slope;
  const b = Number.isFinite(inter) ? inter : 0;
  let min = Infinity;
  let max = -Infinity;
  let lo = Infinity;
  let hi = -Infinity;
  let count = 0;
  for (let i = 0; i < voxels.length; i++) {
    const v = voxels[i]! * s + b;
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
    if (v === 0) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
    count++;
  }
  if (!Number.isFinite(min)) return { min: 0, max: 0, quantiles: new Array(201).fill(0), count: 0 };
  if (count === 0) return { min, max, quantiles: new Array(201).fill(min), count: 0 };
  const hist = new Float64Array(HISTOGRAM_BINS);
  const scale = hi > lo ? (HISTOGRAM_BINS - 1) / (hi - lo) : 0;
  for (let i = 0; i < voxels.length; i++) {
    const v = voxels[i]! * s + b;
    if (v === 0 || !Number.isFinite(v)) continue;
    hist[Math.round((v - lo) * scale)]!++;
  }
  const quantiles: number[] = [];
  let bin = 0;
  let seen = hist[0]!;
  for (let q = 0; q <= 200; q++) {
    const target = Math.min(count, Math.max(1, Math.ceil((q / 200) * count)));
    while (seen < target && bin < HISTOGRAM_BINS - 1) seen += hist[++bin]!;
    quantiles.push(q === 0 ? lo : q === 200 ? hi : scale > 0 ? lo + bin / scale : lo);
  }
  return { min, max, quantiles, count };
}

/** Value at percentile `p` (0..100) of the non-zero voxels, interpolated between the 0.5 % steps. */
export function percentileOf(stats: IntensityStats, p: number): number {
  const x = Math.min(200, Math.max(0, p * 2));
  const i = Math.floor(x);
  const f = x - i;
  const a = stats.quantiles[i]!;
  const b = stats.quantiles[Math.min(200, i + 1)]!;
  return a + (b - a) * f;
}

async function gunzip(bytes: ArrayBuffer): Promise<ArrayBuffer> {
  // The platform's streaming inflate: native code, and in a worker it never blocks the page.
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Response(stream).arrayBuffer();
}

/** Decodes a .nii or .nii.gz file's bytes; errors name the file and the problem. */
export async function decodeVolume(bytes: ArrayBuffer, file: string): Promise<DecodedVolume> {
  let raw: ArrayBuffer;
  try {
    raw = nifti.isCompressed(bytes) ? await gunzip(bytes) : bytes;
  } catch (err) {
    throw new Error(`${file}: not a readable gzip file (${err instanceof Error ? err.message : String(err)})`);
  }
  if (!nifti.isNIFTI(raw)) throw new Error(`${file}: not a NIfTI-1 or NIfTI-2 file`);
  const header = nifti.readHeader(raw);
  const image = nifti.readImage(header, raw);
  const voxels = voxelsOf(header.datatypeCode, image, header.littleEndian, file);
  const stats = intensityStats(voxels, header.scl_slope, header.scl_inter);
  const [pLo, pHi] = DEFAULT_WINDOW_PERCENTILES;
  let lo = percentileOf(stats, pLo);
  let hi = percentileOf(stats, pHi);
  if (!(hi > lo)) [lo, hi] = [stats.min, stats.max > stats.min ? stats.max : stats.min + 1];
  // NIfTI-1 keeps cal_max / cal_min as float32 at bytes 124 / 128 (NIfTI-2 at 192 / 200, as float64).
  const view = new DataView(raw);
  if (nifti.isNIFTI1(raw)) {
    view.setFloat32(124, hi, header.littleEndian);
    view.setFloat32(128, lo, header.littleEndian);
  } else {
    view.setFloat64(192, hi, header.littleEndian);
    view.setFloat64(200, lo, header.littleEndian);
  }
  const narrow = narrowLossless(voxels, header.datatypeCode);
  const nii = narrow ? rewriteNifti(raw, narrow, header.littleEndian, header.vox_offset) : raw;
  const dims: [number, number, number] = [header.dims[1]!, header.dims[2]!, Math.max(1, header.dims[3]!)];
  const volumes = header.dims.slice(4, header.dims[0]! + 1).reduce((n, d) => n * Math.max(1, d), 1);
  const signal = volumes === 1 && voxels.length >= dims[0] * dims[1] * dims[2] ? signalBox(voxels, dims) : null;
  return { nii, stats, defaultWindow: [lo, hi], dims, signal };
}

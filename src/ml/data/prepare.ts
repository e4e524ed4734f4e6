/**
 * Slice preparation: FLAIR/T1w volume pairs -> normalised 160x224 axial slice pairs in a compact
 * cache the trainers read fast.
 *
 * Cache layout (one folder, written atomically: built in a temp folder, then renamed):
 *   slices.bin  records back to back; each record = FLAIR then T1w, 160*224 uint16 little-endian
 *               each, value = round(x * 65535) for x in [0, 1] (quantisation error <= 7.7e-6).
 *   index.json  PreparedIndex: options, per-subject split and normalisation stats, and per record
 *               subject, session, z (LAS voxel index), MNI z (mm), split, lesion pixel count.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { readNifti, writeFileAtomic, type NiftiVolume, type ReadNiftiOptions } from './nifti';
import { applyReorientation, planReorientation, type Affine } from './orientation';
import {
  SLICE_HEIGHT,
  SLICE_PIXELS,
  SLICE_WIDTH,
  describePreset,
  extractAxialSlice,
  minMaxStats,
  mniZ,
  normaliseSlice,
  percentileStats,
  selectSlices,
  sliceMapping,
  validMask,
  type Normalisation,
  type NormalisationStats,
  type SlicePreset,
} from './slices';
import type { SplitFractions, SplitName } from './split';

export const PREPARED_FORMAT = 'brainsynth-prepared-slices';
export const PREPARED_VERSION = 1;
const U16_SCALE = 65535;

/** A volume reoriented to LAS (no resampling), the orientation every slice index refers to. */
export interface LasVolume {
  path: string;
  dims: [number, number, number];
  affine: Affine;
  /** Orientation as stored in the file. */
  storedOrientation: string;
  data: Float32Array;
}

export function toLas(volume: NiftiVolume): LasVolume {
  const plan = planReorientation(volume.affine, volume.dims, 'LAS');
  const frame = volume.frames > 1 ? volume.data.subarray(0, volume.dims[0] * volume.dims[1] * volume.dims[2]) : volume.data;
  return {
    path: volume.path,
    dims: plan.dims,
    affine: plan.affine,
    storedOrientation: volume.orientation,
    data: applyReorientation(frame, volume.dims, plan),
  };
}

export async function readLasVolume(path: string, opts?: ReadNiftiOptions): Promise<LasVolume> {
  return toLas(await readNifti(path, opts));
}

export interface PrepareOptions {
  slices: SlicePreset;
  normalisation: Normalisation;
  /** Percentiles for 'percentile' normalisation (default 0.5 / 99.5). */
  percentiles?: [number, number];
}

export interface PreparedSubject {
  zs: number[];
  mniZ: number[];
  flair: Float32Array[];
  t1w: Float32Array[];
  lesionPixels: number[] | null;
  stats: { flair: NormalisationStats; t1w: NormalisationStats };
}

/** Extracts, clips and normalises one subject's slices (both modalities on the same z list). */
export function prepareSubjectSlices(flair: LasVolume, t1w: LasVolume, lesionMask: LasVolume | null, opts: PrepareOptions): PreparedSubject {
  const zs = selectSlices(opts.slices, flair.dims, flair.data, t1w.data);
  const valid = validMask(flair.dims);
  const take = (v: LasVolume) => zs.map((z) => extractAxialSlice(v.data, v.dims, z));
  const flairBlock = take(flair);
  const t1Block = take(t1w);
  const stats = {
    flair: opts.normalisation === 'minmax' ? minMaxStats(flairBlock, valid) : percentileStats(flair.data, opts.percentiles),
    t1w: opts.normalisation === 'minmax' ? minMaxStats(t1Block, valid) : percentileStats(t1w.data, opts.percentiles),
  };
  for (const s of flairBlock) normaliseSlice(s, stats.flair, valid);
  for (const s of t1Block) normaliseSlice(s, stats.t1w, valid);
  const lesionPixels = lesionMask
    ? zs.map((z) => {
        const m = extractAxialSlice(lesionMask.data, lesionMask.dims, z);
        let n = 0;
        for (let i = 0; i < m.length; i++) if (m[i]! > 0.5) n++;
        return n;
      })
    : null;
  return { zs, mniZ: zs.map((z) => mniZ(flair.affine, z)), flair: flairBlock, t1w: t1Block, lesionPixels, stats };
}

export interface PreparedRecord {
  subject: string;
  session: string | null;
  /** Axial index in the LAS volume. */
  z: number;
  /** World z (mm) of the slice. */
  mniZ: number;
  split: SplitName;
  /** Lesion-mask pixels in the 160x224 slice, or null without a mask. */
  lesionPixels: number | null;
}

export interface PreparedSubjectEntry {
  subject: string;
  session: string | null;
  split: SplitName;
  slices: number;
  stats: { flair: NormalisationStats; t1w: NormalisationStats };
}

export interface PreparedIndex {
  format: typeof PREPARED_FORMAT;
  version: number;
  height: number;
  width: number;
  encoding: 'uint16';
  scale: number;
  channels: ['flair', 't1w'];
  slices: string;
  normalisation: Normalisation;
  percentiles: [number, number] | null;
  fractions: SplitFractions;
  seed: number;
  pinned: Record<string, SplitName>;
  mapping: { description: string; xStart: number; yStart: number };
  createdAt: string;
  counts: Record<SplitName, number>;
  subjects: PreparedSubjectEntry[];
  records: PreparedRecord[];
}

export interface CacheMeta {
  slices: SlicePreset;
  normalisation: Normalisation;
  percentiles?: [number, number];
  fractions: SplitFractions;
  seed: number;
  pinned: Record<string, SplitName>;
  dims: readonly number[];
}

/**
 * Streams prepared subjects into a cache folder. Call add() per subject, then commit(); nothing
 * is visible at `dir` until commit() renames the finished temp folder into place.
 */
export class PreparedCacheWriter {
  private readonly tmpDir: string;
  private readonly fd: number;
  private readonly records: PreparedRecord[] = [];
  private readonly subjects: PreparedSubjectEntry[] = [];
  private closed = false;

  constructor(
    readonly dir: string,
    private readonly meta: CacheMeta,
  ) {
    mkdirSync(dirname(dir), { recursive: true });
    this.tmpDir = join(dirname(dir), `.${basename(dir)}.${process.pid}.${Date.now()}.tmp`);
    mkdirSync(this.tmpDir);
    this.fd = openSync(join(this.tmpDir, 'slices.bin'), 'w');
  }

  add(subject: string, session: string | null, split: SplitName, prepared: PreparedSubject): void {
    const record = Buffer.from(new ArrayBuffer(SLICE_PIXELS * 2 * 2));
    prepared.zs.forEach((z, i) => {
      encodeU16(prepared.flair[i]!, record, 0);
      encodeU16(prepared.t1w[i]!, record, SLICE_PIXELS * 2);
      let written = 0;
      while (written < record.length) written += writeSync(this.fd, record, written, record.length - written);
      this.records.push({ subject, session, z, mniZ: prepared.mniZ[i]!, split, lesionPixels: prepared.lesionPixels?.[i] ?? null });
    });
    this.subjects.push({ subject, session, split, slices: prepared.zs.length, stats: prepared.stats });
  }

  commit(): PreparedIndex {
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.closed = true;
    const m = sliceMapping(this.meta.dims);
    const counts: Record<SplitName, number> = { train: 0, validation: 0, test: 0 };
    for (const r of this.records) counts[r.split]++;
    const index: PreparedIndex = {
      format: PREPARED_FORMAT,
      version: PREPARED_VERSION,
      height: SLICE_HEIGHT,
      width: SLICE_WIDTH,
      encoding: 'uint16',
      scale: U16_SCALE,
      channels: ['flair', 't1w'],
      slices: describePreset(this.meta.slices),
      normalisation: this.meta.normalisation,
      percentiles: this.meta.normalisation === 'percentile' ? (this.meta.percentiles ?? [0.5, 99.5]) : null,
      fractions: this.meta.fractions,
      seed: this.meta.seed,
      pinned: this.meta.pinned,
      mapping: {
        description: `row r <- x = r + ${m.xStart}, col c <- y = c + ${m.yStart} (LAS voxel indices; out of range = 0)`,
        xStart: m.xStart,
        yStart: m.yStart,
      },
      createdAt: new Date().toISOString(),
      counts,
      subjects: this.subjects,
      records: this.records,
    };
    writeFileAtomic(join(this.tmpDir, 'index.json'), Buffer.from(JSON.stringify(index)));
    const old = `${this.dir}.old-${process.pid}`;
    if (existsSync(this.dir)) renameSync(this.dir, old);
    renameSync(this.tmpDir, this.dir);
    rmSync(old, { recursive: true, force: true });
    return index;
  }

  abort(): void {
    if (!this.closed) closeSync(this.fd);
    this.closed = true;
    rmSync(this.tmpDir, { recursive: true, force: true });
  }
}

// slices.bin is little-endian; typed-array views are used directly on little-endian hosts.
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

function encodeU16(values: Float32Array, out: Buffer, offset: number): void {
  if (LITTLE_ENDIAN && (out.byteOffset + offset) % 2 === 0) {
    const view = new Uint16Array(out.buffer, out.byteOffset + offset, values.length);
    for (let i = 0; i < values.length; i++) view[i] = Math.round(values[i]! * U16_SCALE);
    return;
  }
  for (let i = 0; i < values.length; i++) out.writeUInt16LE(Math.round(values[i]! * U16_SCALE), offset + 2 * i);
}

function decodeU16(record: Buffer, pixels: number, channel: number): Uint16Array {
  const offset = channel * pixels * 2;
  if (LITTLE_ENDIAN && (record.byteOffset + offset) % 2 === 0) return new Uint16Array(record.buffer, record.byteOffset + offset, pixels);
  const out = new Uint16Array(pixels);
  for (let p = 0; p < pixels; p++) out[p] = record.readUInt16LE(offset + 2 * p);
  return out;
}

export interface LoadPreparedOptions {
  split?: SplitName;
  /** [height, width]; must divide 160x224 by integers (e.g. [80, 112]); box-averaged. */
  size?: [number, number];
  /** Load only the first this many slices (of the split): enough for a batch, e.g. to time a step. */
  limit?: number;
}

export interface PreparedSlices {
  /** Number of slice pairs. */
  count: number;
  height: number;
  width: number;
  /** count x height x width, row-major, values in [0, 1]. */
  flair: Float32Array;
  t1w: Float32Array;
  records: PreparedRecord[];
  index: PreparedIndex;
}

/** Reads index.json of a cache folder (or the folder holding it, or the index path itself). */
export function readPreparedIndex(datasetDirOrCache: string): { dir: string; index: PreparedIndex } {
  const candidates = datasetDirOrCache.endsWith('index.json')
    ? [dirname(datasetDirOrCache)]
    : [datasetDirOrCache, join(datasetDirOrCache, 'prepared')];
  const dir = candidates.find((d) => existsSync(join(d, 'index.json')));
  if (!dir) throw new Error(`${datasetDirOrCache}: no prepared slices (index.json) found; run \`brainsynth data prepare\` first`);
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as PreparedIndex;
  if (index.format !== PREPARED_FORMAT || index.version > PREPARED_VERSION) {
    throw new Error(`${join(dir, 'index.json')}: not a brainsynth prepared-slice index this version understands`);
  }
  return { dir, index };
}

/**
 * Loads prepared slice pairs, optionally one split and downsampled, as flat Float32Arrays
 * (trainers wrap them with tf.tensor4d(flair, [count, height, width, 1]) or NCHW as they need).
 */
export function loadPreparedSlices(datasetDirOrCache: string, opts: LoadPreparedOptions = {}): PreparedSlices {
  const { dir, index } = readPreparedIndex(datasetDirOrCache);
  const binPath = join(dir, 'slices.bin');
  const recordBytes = index.height * index.width * 2 * 2;
  const expected = recordBytes * index.records.length;
  const size = statSync(binPath).size;
  if (size !== expected) throw new Error(`${binPath}: ${size} bytes, index expects ${expected} (cache is damaged; run data prepare again)`);
  const [h, w] = opts.size ?? [index.height, index.width];
  const fy = index.height / h;
  const fx = index.width / w;
  if (!Number.isInteger(fy) || !Number.isInteger(fx) || fy < 1 || fx < 1) {
    throw new Error(`size ${h}x${w}: must divide ${index.height}x${index.width} by whole factors (e.g. 80x112)`);
  }
  const chosen = index.records
    .map((r, i) => ({ r, i }))
    .filter(({ r }) => !opts.split || r.split === opts.split)
    .slice(0, opts.limit ?? Infinity);
  const flair = new Float32Array(chosen.length * h * w);
  const t1w = new Float32Array(chosen.length * h * w);
  const fd = openSync(binPath, 'r');
  const record = Buffer.from(new ArrayBuffer(recordBytes)); // own, aligned buffer for typed views
  const pixels = index.height * index.width;
  const inv = 1 / index.scale / (fy * fx);
  try {
    chosen.forEach(({ i }, n) => {
      readSyncFully(fd, record, i * recordBytes);
      for (const [channel, target] of [
        [0, flair],
        [1, t1w],
      ] as const) {
        const src = decodeU16(record, pixels, channel);
        const outBase = n * h * w;
        if (fy === 1 && fx === 1) {
          for (let p = 0; p < pixels; p++) target[outBase + p] = src[p]! / index.scale;
          continue;
        }
        for (let r = 0; r < h; r++) {
          for (let c = 0; c < w; c++) {
            let sum = 0;
            for (let dy = 0; dy < fy; dy++) {
              const row = (r * fy + dy) * index.width + c * fx;
              for (let dx = 0; dx < fx; dx++) sum += src[row + dx]!;
            }
            target[outBase + r * w + c] = sum * inv;
          }
        }
      }
    });
  } finally {
    closeSync(fd);
  }
  return { count: chosen.length, height: h, width: w, flair, t1w, records: chosen.map(({ r }) => r), index };
}

function readSyncFully(fd: number, buf: Buffer, position: number): void {
  let read = 0;
  while (read < buf.length) {
    const n = readSync(fd, buf, read, buf.length - read, position + read);
    if (n === 0) throw new Error('prepared slices: unexpected end of slices.bin');
    read += n;
  }
}

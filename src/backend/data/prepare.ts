/**
 * `data prepare` and `data export-png` over a stored dataset. Prepare writes the slice cache to
 * home/datasets/<id>/prepared/ and records the options, counts and per-subject splits in the
 * store (one transaction, after the cache is in place).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { writeFileAtomic } from '../../ml/data/nifti';
import { PreparedCacheWriter, prepareSubjectSlices, readLasVolume, type LasVolume, type PreparedIndex } from '../../ml/data/prepare';
import { gridById } from '../../ml/data/mni';
import { describePreset, parseSlicePreset, toUint8Truncated, type Normalisation, type SlicePreset } from '../../ml/data/slices';
import { assignSplits, SPLITS, type SplitFractions, type SplitName } from '../../ml/data/split';
import type { StoreHandle } from './importer';
import { getDatasetDetail, requireDataset, savePrepared, volumeOf, type DatasetDetail, type DatasetSummary, type PreparedInfo, type SubjectRecord, type VolumeRecord } from '../store/datasets';
import { homeRootOfDb, toStoredPath } from '../home-paths';
import { NotRegularFileError, readRegularFile } from '../../ml/io/regular-file';

export interface PrepareDatasetOptions {
  slices?: SlicePreset | string;
  fractions?: SplitFractions;
  seed?: number;
  /**
   * Default: what the dataset was prepared with before (so re-preparing keeps results comparable),
   * else 'percentile' (0.5/99.5 of the signal, robust to a few bright voxels). 'minmax' is the
   * reference project's scaling, for comparisons with its published numbers.
   */
  normalisation?: Normalisation;
  percentiles?: [number, number];
  /** Subjects forced into a split, e.g. { 'sub-patient19': 'test' } ('patient19' also accepted). */
  pinned?: Record<string, SplitName>;
  onProgress?: (done: number, total: number, subject: string) => void;
}

/** The intensity scaling a dataset gets when it is first prepared without a choice. */
export const DEFAULT_NORMALISATION: Normalisation = 'percentile';

export interface PreparedDatasetResult {
  dataset: DatasetSummary;
  index: PreparedIndex;
  cacheDir: string;
}

/** Matches 'patient19' or 'sub-patient19' to the stored label. */
function resolveSubject(labels: string[], ref: string): string {
  const hit = labels.find((l) => l === ref || l === `sub-${ref}`);
  if (!hit) throw new Error(`subject "${ref}" is not in the dataset (have: ${labels.join(', ')})`);
  return hit;
}

async function readVolumeChecked(v: VolumeRecord): Promise<LasVolume> {
  let bytes: Buffer;
  try {
    bytes = readRegularFile(v.path);
  } catch (err) {
    if (err instanceof NotRegularFileError) throw new Error(`${v.path}: imported volume was replaced by ${err.kind}; import it again`);
    throw new Error(`${v.path}: imported volume is missing (moved or deleted since import)`);
  }
  if (v.sha256 && createHash('sha256').update(bytes).digest('hex') !== v.sha256) {
    throw new Error(`${v.path}: file changed since import (sha256 differs); import it again`);
  }
  return readLasVolume(v.path);
}

async function loadSubject(subject: SubjectRecord, needMask: boolean) {
  const flair = volumeOf(subject, 'FLAIR');
  const t1w = volumeOf(subject, 'T1w');
  if (!flair || !t1w) throw new Error(`${subject.label}: FLAIR or T1w volume missing in the store`);
  const mask = needMask ? volumeOf(subject, 'lesion_mask') : undefined;
  return {
    flair: await readVolumeChecked(flair),
    t1w: await readVolumeChecked(t1w),
    mask: mask ? await readVolumeChecked(mask) : null,
    t1wRecord: t1w,
  };
}

function splitKey(s: SubjectRecord): string {
  return s.label;
}

export async function prepareDataset(
  store: StoreHandle,
  home: { datasetDir(id: number): string },
  ref: string | number,
  opts: PrepareDatasetOptions = {},
): Promise<PreparedDatasetResult> {
  const detail = getDatasetDetail(store.db, ref);
  const grid = detail.grid ? gridById(detail.grid) : undefined;
  if (grid && grid.voxelMm !== 1) {
    throw new Error(`dataset "${detail.name}" is on the ${grid.label} grid; slice preparation needs a 1 mm grid (resample to 1 mm MNI first)`);
  }
  const slices = typeof opts.slices === 'string' ? parseSlicePreset(opts.slices) : (opts.slices ?? { kind: 'brain-band' as const });
  const fractions = opts.fractions ?? [0.8, 0.1, 0.1];
  const seed = opts.seed ?? 0;
  const earlier = detail.prepared;
  const normalisation: Normalisation = opts.normalisation ?? earlier?.normalisation ?? DEFAULT_NORMALISATION;
  if (!opts.percentiles && opts.normalisation === undefined && normalisation === 'percentile' && earlier?.percentiles) {
    opts = { ...opts, percentiles: earlier.percentiles };
  }
  const labels = [...new Set(detail.subjects.map(splitKey))];
  const pinned: Record<string, SplitName> = {};
  for (const [subject, split] of Object.entries(opts.pinned ?? {})) pinned[resolveSubject(labels, subject)] = split;
  const splits = assignSplits(labels, fractions, seed, pinned);
  const cacheDir = join(home.datasetDir(detail.id), 'prepared');
  const firstFlair = detail.subjects[0] && volumeOf(detail.subjects[0], 'FLAIR');
  const writer = new PreparedCacheWriter(cacheDir, {
    slices,
    normalisation,
    ...(opts.percentiles ? { percentiles: opts.percentiles } : {}),
    fractions,
    seed,
    pinned,
    dims: firstFlair?.dims ?? [182, 218, 182],
  });
  let index: PreparedIndex;
  try {
    for (const [i, subject] of detail.subjects.entries()) {
      opts.onProgress?.(i, detail.subjects.length, subject.label);
      const v = await loadSubject(subject, true);
      const prepared = prepareSubjectSlices(v.flair, v.t1w, v.mask, { slices, normalisation, ...(opts.percentiles ? { percentiles: opts.percentiles } : {}) });
      writer.add(subject.label, subject.session, splits.get(splitKey(subject))!, prepared);
    }
    opts.onProgress?.(detail.subjects.length, detail.subjects.length, '');
    index = writer.commit();
  } catch (err) {
    writer.abort();
    throw err;
  }
  const subjectsPerSplit: Record<SplitName, number> = { train: 0, validation: 0, test: 0 };
  for (const split of splits.values()) subjectsPerSplit[split]++;
  const info: PreparedInfo = {
    slices: describePreset(slices),
    normalisation,
    percentiles: index.percentiles,
    fractions,
    seed,
    pinned,
    // Stored relative to the home: store/datasets.ts resolves it again on every read.
    cacheDir: toStoredPath(homeRootOfDb(store.db), resolve(cacheDir)),
    counts: index.counts,
    subjects: subjectsPerSplit,
    createdAt: index.createdAt,
  };
  savePrepared(store.db, detail.id, info, normalisation, detail.subjects.map((s) => ({ subjectId: s.id, split: splits.get(splitKey(s))! })));
  return { dataset: requireDataset(store.db, detail.id), index, cacheDir: resolve(cacheDir) };
}

export interface ExportPngResult {
  outDir: string;
  rows: Record<SplitName, number>;
  files: number;
}

/** Reference PNG base name: the T1w basename with _T1w.nii.gz -> _slice-{i}_T1w.png. */
function pngBase(subject: SubjectRecord, t1w: VolumeRecord): string {
  const b = basename(t1w.path);
  const m = /^(.*)_T1w\.nii(\.gz)?$/.exec(b);
  return m ? m[1]! : `${subject.label}${subject.session ? `_${subject.session}` : ''}`;
}

function writeGrayPng(path: string, pixels: Uint8Array, width: number, height: number): void {
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8 });
  png.data = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  writeFileSync(path, PNG.sync.write(png, { colorType: 0, inputColorType: 0, inputHasAlpha: false, bitDepth: 8 }));
}

/**
 * Writes the reference layout: OUT/<subject>/[<session>/]<base>_slice-{i}_{T1w,FLAIR}.png (8-bit,
 * 224 wide x 160 high, float * 255 truncated) and OUT/{train,validation,test}.tsv with header
 * "t1w<TAB>flair" and absolute paths, subjects sorted, files in sorted-glob order (as
 * create_datalist.py). Uses the dataset's prepared options and splits (run prepare first).
 */
export async function exportDatasetPng(
  store: StoreHandle,
  ref: string | number,
  outDir: string,
  opts: { onProgress?: (done: number, total: number, subject: string) => void } = {},
): Promise<ExportPngResult> {
  const detail: DatasetDetail = getDatasetDetail(store.db, ref);
  if (!detail.prepared) throw new Error(`dataset "${detail.name}" is not prepared; run \`brainsynth data prepare --dataset ${detail.name}\` first`);
  const p = detail.prepared;
  const out = resolve(outDir);
  mkdirSync(out, { recursive: true });
  const rows: Record<SplitName, string[]> = { train: [], validation: [], test: [] };
  let files = 0;
  const subjects = [...detail.subjects].sort((a, b) => (a.label + (a.session ?? '')).localeCompare(b.label + (b.session ?? '')));
  for (const [n, subject] of subjects.entries()) {
    opts.onProgress?.(n, subjects.length, subject.label);
    const v = await loadSubject(subject, false);
    const prepared = prepareSubjectSlices(v.flair, v.t1w, null, {
      slices: parseSlicePreset(p.slices),
      normalisation: p.normalisation,
      ...(p.percentiles ? { percentiles: p.percentiles } : {}),
    });
    const folder = subject.session ? join(out, subject.label, subject.session) : join(out, subject.label);
    mkdirSync(folder, { recursive: true });
    const base = pngBase(subject, v.t1wRecord);
    const pairs: [string, string][] = [];
    prepared.zs.forEach((_z, i) => {
      const t1Path = join(folder, `${base}_slice-${i}_T1w.png`);
      const flairPath = join(folder, `${base}_slice-${i}_FLAIR.png`);
      writeGrayPng(t1Path, toUint8Truncated(prepared.t1w[i]!), 224, 160);
      writeGrayPng(flairPath, toUint8Truncated(prepared.flair[i]!), 224, 160);
      files += 2;
      pairs.push([t1Path, flairPath]);
    });
    // create_datalist.py: sorted recursive glob of *T1w.png within the subject folder.
    pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const split = subject.split ?? 'train';
    for (const [t1, fl] of pairs) rows[split].push(`${t1}\t${fl}`);
  }
  for (const split of SPLITS) writeFileAtomic(join(out, `${split}.tsv`), Buffer.from(['t1w\tflair', ...rows[split]].join('\n') + '\n'));
  opts.onProgress?.(subjects.length, subjects.length, '');
  return { outDir: out, rows: { train: rows.train.length, validation: rows.validation.length, test: rows.test.length }, files };
}

/**
 * Test helpers for the data pipeline: temporary homes with a real store, and hand-built NIfTI
 * files of any datatype/endianness/version (so the reader is checked against bytes we wrote
 * independently of writeNifti), plus small BIDS folders on the FSL 2 mm grid (fast to write).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { openStore, type Store } from '../../src/backend/store';
import { ensureHome, homeLayout, type HomeLayout } from '../../src/backend/home';
import { sharedPath } from '../helpers/shared';

export const openMsDir = sharedPath('data', 'open-ms-mni');
export const hasOpenMs = existsSync(join(openMsDir, 'sub-patient07', 'anat', 'sub-patient07_FLAIR.nii.gz'));
export const templatesDir = sharedPath('data', 'templates');

export function tempDir(prefix = 'bs-data-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function tempHome(): { home: HomeLayout; store: Store; dir: string; cleanup(): void } {
  const t = tempDir('bs-home-');
  const home = ensureHome(homeLayout(join(t.dir, 'home')));
  const store = openStore(home.dbPath);
  return {
    home,
    store,
    dir: t.dir,
    cleanup() {
      store.close();
      t.cleanup();
    },
  };
}

/** Rows in the dataset tables: all zero means nothing was (half-)imported. */
export function datasetRowCounts(store: Store): { datasets: number; subjects: number; volumes: number } {
  const count = (table: string) => (store.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
  return { datasets: count('datasets'), subjects: count('subjects'), volumes: count('volumes') };
}

export const FSL_1MM_AFFINE = [
  [-1, 0, 0, 90],
  [0, 1, 0, -126],
  [0, 0, 1, -72],
  [0, 0, 0, 1],
];
export const FSL_2MM_AFFINE = [
  [-2, 0, 0, 90],
  [0, 2, 0, -126],
  [0, 0, 2, -72],
  [0, 0, 0, 1],
];

const TYPE_BYTES: Record<number, number> = { 2: 1, 4: 2, 8: 4, 16: 4, 64: 8, 256: 1, 512: 2, 768: 4 };

export interface HandNifti {
  dims: number[]; // [nx, ny, nz(, nt)]
  datatype: number;
  values: ArrayLike<number>;
  slope?: number;
  inter?: number;
  sform?: number[][] | null;
  sformCode?: number;
  qform?: { b: number; c: number; d: number; qfac: number; offset: [number, number, number]; pixdim: [number, number, number] } | null;
  qformCode?: number;
  littleEndian?: boolean;
  version?: 1 | 2;
}

function writeValue(view: DataView, offset: number, datatype: number, v: number, le: boolean): void {
  switch (datatype) {
    case 2:
      return view.setUint8(offset, v);
    case 256:
      return view.setInt8(offset, v);
    case 4:
      return view.setInt16(offset, v, le);
    case 512:
      return view.setUint16(offset, v, le);
    case 8:
      return view.setInt32(offset, v, le);
    case 768:
      return view.setUint32(offset, v, le);
    case 16:
      return view.setFloat32(offset, v, le);
    case 64:
      return view.setFloat64(offset, v, le);
  }
}

/** Builds NIfTI-1 (348-byte header, vox_offset 352) or NIfTI-2 (540, vox_offset 544) bytes by hand. */
export function buildNifti(spec: HandNifti): Buffer {
  const le = spec.littleEndian ?? true;
  const v2 = spec.version === 2;
  const headerSize = v2 ? 540 : 348;
  const voxOffset = v2 ? 544 : 352;
  const bytes = TYPE_BYTES[spec.datatype]!;
  const buf = Buffer.alloc(voxOffset + spec.values.length * bytes);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const q = spec.qform ?? null;
  const pixdim = [q ? q.qfac : 1, ...(q ? q.pixdim : [1, 1, 1]), 1, 1, 1, 1];
  const dim = [spec.dims.length, ...spec.dims, 1, 1, 1, 1, 1, 1, 1].slice(0, 8);
  const sform = spec.sform ?? null;
  if (!v2) {
    view.setInt32(0, headerSize, le);
    dim.forEach((d, i) => view.setInt16(40 + 2 * i, d, le));
    view.setInt16(70, spec.datatype, le);
    view.setInt16(72, bytes * 8, le);
    pixdim.forEach((p, i) => view.setFloat32(76 + 4 * i, p, le));
    view.setFloat32(108, voxOffset, le);
    view.setFloat32(112, spec.slope ?? 1, le);
    view.setFloat32(116, spec.inter ?? 0, le);
    view.setInt16(252, spec.qformCode ?? (q ? 1 : 0), le);
    view.setInt16(254, spec.sformCode ?? (sform ? 2 : 0), le);
    if (q) {
      view.setFloat32(256, q.b, le);
      view.setFloat32(260, q.c, le);
      view.setFloat32(264, q.d, le);
      q.offset.forEach((o, i) => view.setFloat32(268 + 4 * i, o, le));
    }
    if (sform) for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) view.setFloat32(280 + 16 * r + 4 * c, sform[r]![c]!, le);
    buf.write('n+1\0', 344, 'latin1');
  } else {
    view.setInt32(0, headerSize, le);
    buf.write('n+2\0\r\n\x1a\n', 4, 'latin1');
    view.setInt16(12, spec.datatype, le);
    view.setInt16(14, bytes * 8, le);
    dim.forEach((d, i) => view.setBigInt64(16 + 8 * i, BigInt(d), le));
    pixdim.forEach((p, i) => view.setFloat64(104 + 8 * i, p, le));
    view.setBigInt64(168, BigInt(voxOffset), le);
    view.setFloat64(176, spec.slope ?? 1, le);
    view.setFloat64(184, spec.inter ?? 0, le);
    view.setInt32(344, spec.qformCode ?? (q ? 1 : 0), le);
    view.setInt32(348, spec.sformCode ?? (sform ? 2 : 0), le);
    if (q) {
      view.setFloat64(352, q.b, le);
      view.setFloat64(360, q.c, le);
      view.setFloat64(368, q.d, le);
      q.offset.forEach((o, i) => view.setFloat64(376 + 8 * i, o, le));
    }
    if (sform) for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) view.setFloat64(400 + 32 * r + 8 * c, sform[r]![c]!, le);
  }
  for (let i = 0; i < spec.values.length; i++) writeValue(view, voxOffset + i * bytes, spec.datatype, spec.values[i]!, le);
  return buf;
}

export function writeFile(path: string, bytes: Buffer | string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
  return path;
}

/** A float32 volume with a bright ellipsoid "brain" (value 100 + small ramp) on a grid. */
export function blobVolume(dims: [number, number, number], fill?: (i: number, j: number, k: number) => number): Float32Array {
  const [nx, ny, nz] = dims;
  const data = new Float32Array(nx * ny * nz);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const dx = (i - nx / 2) / (nx * 0.35);
        const dy = (j - ny / 2) / (ny * 0.4);
        const dz = (k - nz / 2) / (nz * 0.35);
        if (dx * dx + dy * dy + dz * dz < 1) data[i + nx * (j + ny * k)] = fill ? fill(i, j, k) : 100 + i * 0.1 + j * 0.05;
      }
  return data;
}

/** Gzipped float32 NIfTI-1 via the hand builder with an sform (code 4 = MNI). */
export function gzNifti(dims: number[], affine: number[][], values: ArrayLike<number>): Buffer {
  return gzipSync(buildNifti({ dims, datatype: 16, values, sform: affine, sformCode: 4 }), { level: 1 });
}

let cached2mm: { flair: Buffer; t1w: Buffer } | undefined;
/** A valid FSL 2 mm subject (FLAIR + T1w), cached bytes. */
export function valid2mmPair(): { flair: Buffer; t1w: Buffer } {
  if (!cached2mm) {
    const dims: [number, number, number] = [91, 109, 91];
    cached2mm = {
      flair: gzNifti(dims, FSL_2MM_AFFINE, blobVolume(dims)),
      t1w: gzNifti(dims, FSL_2MM_AFFINE, blobVolume(dims, (i) => 200 + i)),
    };
  }
  return cached2mm;
}

/** Writes sub-<label>/anat/sub-<label>_{FLAIR,T1w}.nii.gz with the given bytes. */
export function writeSubject(root: string, label: string, files: { flair?: Buffer | string; t1w?: Buffer | string; lesion?: Buffer }): void {
  const anat = join(root, `sub-${label}`, 'anat');
  if (files.flair !== undefined) writeFile(join(anat, `sub-${label}_FLAIR.nii.gz`), files.flair);
  if (files.t1w !== undefined) writeFile(join(anat, `sub-${label}_T1w.nii.gz`), files.t1w);
  if (files.lesion !== undefined) writeFile(join(anat, `sub-${label}_label-lesion_mask.nii.gz`), files.lesion);
}

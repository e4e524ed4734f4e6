/**
 * NIfTI-1 / NIfTI-2 reading and (NIfTI-1, float32) writing in plain Node.
 * Header fields come from nifti-reader-js; decompression, size guard, voxel decoding, affine
 * choice (sform when sform_code > 0, else qform, else pixdim scaling) and atomic writes are ours.
 * Data are returned as a Float32Array in NIfTI's Fortran order: index = i + nx*(j + ny*k) (+ ... t).
 */
import { closeSync, createReadStream, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createGunzip, gunzipSync, gzipSync } from 'node:zlib';
import * as niftiReader from 'nifti-reader-js';
import { orientationCode, type Affine } from './orientation';
import { NotRegularFileError, openRegularFile, readAll } from '../io/regular-file';

/**
 * Volumes whose voxels need more memory than this once read are refused from the header, before
 * anything is decompressed (override per call). Counted at the larger of the stored and the
 * decoded (float32) size: a small uint8 file can decode to four times its stored size.
 */
export const DEFAULT_MAX_VOXEL_BYTES = 1.5 * 1024 ** 3;

/** Header extensions beyond this are refused: no NIfTI writer puts the voxels that far in. */
const MAX_VOX_OFFSET = 64 * 1024 ** 2;

const DATATYPES: Record<number, { name: string; bytes: number }> = {
  2: { name: 'uint8', bytes: 1 },
  4: { name: 'int16', bytes: 2 },
  8: { name: 'int32', bytes: 4 },
  16: { name: 'float32', bytes: 4 },
  64: { name: 'float64', bytes: 8 },
  256: { name: 'int8', bytes: 1 },
  512: { name: 'uint16', bytes: 2 },
  768: { name: 'uint32', bytes: 4 },
};

/** Raised for anything wrong with a NIfTI file; the message always starts with the file name. */
export class NiftiError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'NiftiError';
  }
}

export interface NiftiHeaderInfo {
  path: string;
  version: 1 | 2;
  /** Spatial + extra dims as stored (dim[1..dim[0]]). */
  shape: number[];
  /** [nx, ny, nz] (1 for missing axes). */
  dims: [number, number, number];
  /** Number of 3D volumes (product of dims 4..7). */
  frames: number;
  pixdim: [number, number, number];
  datatype: string;
  datatypeCode: number;
  sclSlope: number;
  sclInter: number;
  qformCode: number;
  sformCode: number;
  /** Which header transform the affine came from. */
  affineSource: 'sform' | 'qform' | 'pixdim';
  affine: Affine;
  orientation: string;
  voxOffset: number;
  littleEndian: boolean;
  description: string;
  /** Bytes of voxel data the header promises. */
  voxelBytes: number;
  compressed: boolean;
}

export interface NiftiVolume extends NiftiHeaderInfo {
  /** All voxels (all frames), scaled by scl_slope/scl_inter, Fortran order. */
  data: Float32Array;
}

export interface ReadNiftiOptions {
  maxVoxelBytes?: number;
}

function isGzipPath(path: string): boolean {
  return path.toLowerCase().endsWith('.gz');
}

function toArrayBuffer(buf: Buffer): ArrayBuffer {
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

/** The first `bytes` bytes of the (decompressed) file, without inflating the whole file. */
async function readPrefix(path: string, bytes: number): Promise<Buffer> {
  const { fd } = openRegularFile(path);
  if (!isGzipPath(path)) {
    try {
      return readAll(fd, bytes);
    } finally {
      closeSync(fd);
    }
  }
  return new Promise<Buffer>((resolvePrefix, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let done = false;
    const source = createReadStream('', { fd, autoClose: true });
    const gunzip = createGunzip();
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      source.destroy();
      gunzip.destroy();
      if (err && total < bytes) reject(err);
      else resolvePrefix(Buffer.concat(chunks).subarray(0, Math.min(total, bytes)));
    };
    gunzip.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      total += chunk.length;
      if (total >= bytes) finish();
    });
    gunzip.on('end', () => finish());
    gunzip.on('error', (err) => finish(err));
    source.on('error', (err) => finish(err));
    source.pipe(gunzip);
  });
}

/**
 * The qform as nifti1_io (nifti_quatern_to_mat44) builds it, so a file means here what it means in
 * FSL, ANTs and nibabel: a non-positive or non-finite spacing counts as 1 (its sign never flips an
 * axis; only qfac = pixdim[0] < 0 does), and a quaternion with |(b,c,d)| near 1 is normalised.
 */
function qformAffine(h: niftiReader.NIFTI1 | niftiReader.NIFTI2): Affine {
  let b = h.quatern_b;
  let c = h.quatern_c;
  let d = h.quatern_d;
  let a = 1 - (b * b + c * c + d * d);
  if (a < 1e-7) {
    const norm = 1 / Math.sqrt(b * b + c * c + d * d);
    b *= norm;
    c *= norm;
    d *= norm;
    a = 0;
  } else {
    a = Math.sqrt(a);
  }
  const qfac = h.pixDims[0]! < 0 ? -1 : 1;
  const spacing = (v: number | undefined) => (v !== undefined && Number.isFinite(v) && v > 0 ? v : 1);
  const [dx, dy, dz] = [spacing(h.pixDims[1]), spacing(h.pixDims[2]), spacing(h.pixDims[3]) * qfac];
  const r = [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ];
  const offsets = [h.qoffset_x, h.qoffset_y, h.qoffset_z];
  const rows: Affine = r.map((row, i) => [row[0]! * dx, row[1]! * dy, row[2]! * dz, offsets[i]!]);
  rows.push([0, 0, 0, 1]);
  return clean(rows);
}

/** Drops -0 and float noise such as 1e-17 so affines compare and print cleanly. */
function clean(m: Affine): Affine {
  return m.map((row) => row.map((v) => (Math.abs(v) < 1e-12 ? 0 : v)));
}

function parseHeader(path: string, prefix: Buffer, compressed: boolean): NiftiHeaderInfo {
  const name = basename(path);
  if (prefix.length < 348) throw new NiftiError(name, `not a NIfTI file: only ${prefix.length} bytes of header (need at least 348)`);
  const ab = toArrayBuffer(prefix);
  if (!niftiReader.isNIFTI(ab)) {
    throw new NiftiError(name, 'not a NIfTI file (no NIfTI-1 "n+1"/"ni1" or NIfTI-2 magic in the header)');
  }
  let h: niftiReader.NIFTI1 | niftiReader.NIFTI2;
  try {
    h = niftiReader.readHeader(ab);
  } catch (err) {
    throw new NiftiError(name, `unreadable NIfTI header (${err instanceof Error ? err.message : String(err)})`);
  }
  const version: 1 | 2 = h instanceof niftiReader.NIFTI2 ? 2 : 1;
  const ndim = h.dims[0]!;
  if (!(ndim >= 1 && ndim <= 7)) throw new NiftiError(name, `invalid dim[0] = ${ndim} (must be 1..7)`);
  const shape = h.dims.slice(1, 1 + ndim);
  if (shape.some((n) => !Number.isInteger(n) || n < 1)) throw new NiftiError(name, `invalid dimensions [${shape.join(', ')}]`);
  const dims = [shape[0] ?? 1, shape[1] ?? 1, shape[2] ?? 1] as [number, number, number];
  const frames = shape.slice(3).reduce((p, n) => p * n, 1);
  const type = DATATYPES[h.datatypeCode];
  if (!type) {
    throw new NiftiError(
      name,
      `unsupported datatype code ${h.datatypeCode} (supported: ${Object.values(DATATYPES)
        .map((t) => t.name)
        .join(', ')})`,
    );
  }
  const voxelBytes = dims[0] * dims[1] * dims[2] * frames * type.bytes;
  const minVoxOffset = version === 2 ? 540 : 352;
  const rawVoxOffset = Number(h.vox_offset);
  if (!Number.isFinite(rawVoxOffset) || rawVoxOffset < 0 || !Number.isInteger(rawVoxOffset) || rawVoxOffset > MAX_VOX_OFFSET) {
    throw new NiftiError(name, `invalid vox_offset ${rawVoxOffset} (must be a whole number of bytes from ${minVoxOffset} to ${MAX_VOX_OFFSET})`);
  }
  let affine: Affine;
  let affineSource: NiftiHeaderInfo['affineSource'];
  if (h.sform_code > 0) {
    affine = clean(h.affine.map((row) => [...row]));
    affineSource = 'sform';
  } else if (h.qform_code > 0) {
    affine = qformAffine(h);
    affineSource = 'qform';
  } else {
    // Analyze-style fallback (NIfTI "method 1"): scaling only.
    const p = [h.pixDims[1] || 1, h.pixDims[2] || 1, h.pixDims[3] || 1];
    affine = [
      [p[0]!, 0, 0, 0],
      [0, p[1]!, 0, 0],
      [0, 0, p[2]!, 0],
      [0, 0, 0, 1],
    ];
    affineSource = 'pixdim';
  }
  if (affine.slice(0, 3).some((row) => row.some((v) => !Number.isFinite(v)))) {
    throw new NiftiError(name, `${affineSource} affine contains NaN/Inf`);
  }
  const slope = h.scl_slope;
  return {
    path,
    version,
    shape,
    dims,
    frames,
    pixdim: [Math.abs(h.pixDims[1] || 1), Math.abs(h.pixDims[2] || 1), Math.abs(h.pixDims[3] || 1)],
    datatype: type.name,
    datatypeCode: h.datatypeCode,
    // NIfTI: slope 0 (or non-finite) means "no scaling".
    sclSlope: Number.isFinite(slope) && slope !== 0 ? slope : 1,
    sclInter: Number.isFinite(slope) && slope !== 0 && Number.isFinite(h.scl_inter) ? h.scl_inter : 0,
    qformCode: h.qform_code,
    sformCode: h.sform_code,
    affineSource,
    affine,
    orientation: orientationCode(affine),
    // Some writers leave vox_offset 0 in single-file NIfTI; the voxels then follow the header.
    voxOffset: Math.max(rawVoxOffset, minVoxOffset),
    littleEndian: h.littleEndian,
    description: h.description ?? '',
    voxelBytes,
    compressed,
  };
}

/** Reads only the header (decompressing a few hundred bytes at most). */
export async function readNiftiHeader(path: string): Promise<NiftiHeaderInfo> {
  let prefix: Buffer;
  try {
    prefix = await readPrefix(path, 544);
  } catch (err) {
    if (err instanceof NotRegularFileError) throw new NiftiError(basename(path), `not a regular file (${err.kind}); only ordinary files are read`);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new NiftiError(basename(path), 'file not found');
    throw new NiftiError(basename(path), `cannot read header (${code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR' ? 'corrupt gzip data' : (err as Error).message})`);
  }
  return parseHeader(path, prefix, isGzipPath(path));
}

function decodeVoxels(raw: Buffer, offset: number, info: NiftiHeaderInfo): Float32Array {
  const n = info.voxelBytes / DATATYPES[info.datatypeCode]!.bytes;
  const out = new Float32Array(n);
  const view = new DataView(raw.buffer, raw.byteOffset + offset, info.voxelBytes);
  const le = info.littleEndian;
  const code = info.datatypeCode;
  if (code === 16 && le && (raw.byteOffset + offset) % 4 === 0) {
    out.set(new Float32Array(raw.buffer, raw.byteOffset + offset, n));
  } else {
    switch (code) {
      case 2:
        for (let i = 0; i < n; i++) out[i] = view.getUint8(i);
        break;
      case 256:
        for (let i = 0; i < n; i++) out[i] = view.getInt8(i);
        break;
      case 4:
        for (let i = 0; i < n; i++) out[i] = view.getInt16(i * 2, le);
        break;
      case 512:
        for (let i = 0; i < n; i++) out[i] = view.getUint16(i * 2, le);
        break;
      case 8:
        for (let i = 0; i < n; i++) out[i] = view.getInt32(i * 4, le);
        break;
      case 768:
        for (let i = 0; i < n; i++) out[i] = view.getUint32(i * 4, le);
        break;
      case 16:
        for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, le);
        break;
      case 64:
        for (let i = 0; i < n; i++) out[i] = view.getFloat64(i * 8, le);
        break;
    }
  }
  if (info.sclSlope !== 1 || info.sclInter !== 0) {
    for (let i = 0; i < n; i++) out[i] = out[i]! * info.sclSlope + info.sclInter;
  }
  return out;
}

/**
 * Reads a .nii or .nii.gz fully. Refuses (before inflating) files whose header promises more than
 * `maxVoxelBytes` of voxels, and reports truncated or corrupt files by name.
 */
export async function readNifti(path: string, opts: ReadNiftiOptions = {}): Promise<NiftiVolume> {
  const info = await readNiftiHeader(path);
  const name = basename(path);
  checkVoxelBudget(info, opts.maxVoxelBytes ?? DEFAULT_MAX_VOXEL_BYTES);
  const needed = info.voxOffset + info.voxelBytes;
  let raw: Buffer;
  if (info.compressed) {
    try {
      // maxOutputLength stops a gzip bomb whose header lies about its size.
      raw = gunzipSync(readFileBuffer(path), { maxOutputLength: needed + 1024 * 1024 });
    } catch (err) {
      if (err instanceof NiftiError) throw err;
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'Z_BUF_ERROR') throw new NiftiError(name, 'truncated gzip stream (unexpected end of file); the download or copy is incomplete');
      if (e.code === 'ERR_BUFFER_TOO_LARGE') throw new NiftiError(name, 'decompressed data larger than the header says; file is corrupt');
      throw new NiftiError(name, `corrupt gzip data (${e.message})`);
    }
  } else {
    raw = readFileBuffer(path);
    if (raw.length < needed) {
      throw new NiftiError(name, `truncated: header needs ${needed} bytes (${info.shape.join('x')} ${info.datatype}), file has ${raw.length}`);
    }
  }
  if (raw.length < needed) {
    throw new NiftiError(name, `truncated: header needs ${needed} bytes of image (${info.shape.join('x')} ${info.datatype}), decompressed data has ${raw.length}`);
  }
  return { ...info, data: decodeVoxels(raw, info.voxOffset, info) };
}

/** Bytes the voxels occupy once read: the larger of the stored and the decoded float32 size. */
export function voxelMemoryBytes(info: Pick<NiftiHeaderInfo, 'voxelBytes' | 'datatypeCode'>): number {
  const stored = DATATYPES[info.datatypeCode]!.bytes;
  return (info.voxelBytes / stored) * Math.max(stored, 4);
}

/** Refuses, from the header alone, a volume whose voxels would need more than `limit` bytes. */
export function checkVoxelBudget(info: NiftiHeaderInfo, limit: number = DEFAULT_MAX_VOXEL_BYTES): void {
  const bytes = voxelMemoryBytes(info);
  if (bytes > limit) {
    const mib = (n: number) => (n / 1024 ** 2).toFixed(0);
    throw new NiftiError(
      basename(info.path),
      `too large: header claims ${info.shape.join('x')} ${info.datatype} = ${mib(bytes)} MiB of voxels once decoded to float32, ` +
        `over the ${mib(limit)} MiB limit (not read)`,
    );
  }
}

function readFileBuffer(path: string): Buffer {
  let opened: ReturnType<typeof openRegularFile>;
  try {
    opened = openRegularFile(path);
  } catch (err) {
    if (err instanceof NotRegularFileError) throw new NiftiError(basename(path), `not a regular file (${err.kind}); only ordinary files are read`);
    throw err;
  }
  try {
    return readAll(opened.fd, opened.stats.size);
  } finally {
    closeSync(opened.fd);
  }
}

/** Writes `bytes` to `path` atomically: temp file beside it, fsync, rename. */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

export interface WritableVolume {
  dims: readonly number[];
  data: Float32Array;
}

export interface WriteNiftiOptions {
  /** NIfTI xform code stored with the sform (default 2 = aligned anat; 4 = MNI152). */
  sformCode?: number;
  /** NIfTI xform code stored with the qform (default 1 = scanner anat). */
  qformCode?: number;
  description?: string;
  /** zlib level for .nii.gz (default 6; the phantom uses 1 for speed). */
  gzipLevel?: number;
}

/** Quaternion parameters for the rotation part of an affine (no shear assumed), as NIfTI stores them. */
function affineToQuaternion(affine: Affine): { b: number; c: number; d: number; qfac: number; pixdim: number[] } {
  const cols = [0, 1, 2].map((j) => [affine[0]![j]!, affine[1]![j]!, affine[2]![j]!]);
  const pixdim = cols.map((c) => Math.hypot(c[0]!, c[1]!, c[2]!) || 1);
  const r = cols.map((c, j) => c.map((v) => v / pixdim[j]!)); // r[j] = column j
  const det =
    r[0]![0]! * (r[1]![1]! * r[2]![2]! - r[2]![1]! * r[1]![2]!) -
    r[1]![0]! * (r[0]![1]! * r[2]![2]! - r[2]![1]! * r[0]![2]!) +
    r[2]![0]! * (r[0]![1]! * r[1]![2]! - r[1]![1]! * r[0]![2]!);
  const qfac = det < 0 ? -1 : 1;
  if (qfac < 0) r[2] = r[2]!.map((v) => -v);
  // m[row][col] with columns r[j]
  const m = (row: number, col: number) => r[col]![row]!;
  const trace = m(0, 0) + m(1, 1) + m(2, 2);
  let a: number, b: number, c: number, d: number;
  if (trace > 0) {
    const s = 0.5 / Math.sqrt(trace + 1);
    a = 0.25 / s;
    b = (m(2, 1) - m(1, 2)) * s;
    c = (m(0, 2) - m(2, 0)) * s;
    d = (m(1, 0) - m(0, 1)) * s;
  } else if (m(0, 0) > m(1, 1) && m(0, 0) > m(2, 2)) {
    const s = 2 * Math.sqrt(1 + m(0, 0) - m(1, 1) - m(2, 2));
    a = (m(2, 1) - m(1, 2)) / s;
    b = 0.25 * s;
    c = (m(0, 1) + m(1, 0)) / s;
    d = (m(0, 2) + m(2, 0)) / s;
  } else if (m(1, 1) > m(2, 2)) {
    const s = 2 * Math.sqrt(1 + m(1, 1) - m(0, 0) - m(2, 2));
    a = (m(0, 2) - m(2, 0)) / s;
    b = (m(0, 1) + m(1, 0)) / s;
    c = 0.25 * s;
    d = (m(1, 2) + m(2, 1)) / s;
  } else {
    const s = 2 * Math.sqrt(1 + m(2, 2) - m(0, 0) - m(1, 1));
    a = (m(1, 0) - m(0, 1)) / s;
    b = (m(0, 2) + m(2, 0)) / s;
    c = (m(1, 2) + m(2, 1)) / s;
    d = 0.25 * s;
  }
  if (a < 0) {
    b = -b;
    c = -c;
    d = -d;
  }
  return { b, c, d, qfac, pixdim };
}

/** Encodes a float32 NIfTI-1 single file (.nii bytes, uncompressed). */
export function encodeNifti(volume: WritableVolume, affine: Affine, opts: WriteNiftiOptions = {}): Buffer {
  const dims = [...volume.dims];
  const nvox = dims.reduce((p, n) => p * n, 1);
  if (volume.data.length !== nvox) throw new Error(`encodeNifti: data has ${volume.data.length} values, dims ${dims.join('x')} need ${nvox}`);
  const header = Buffer.alloc(352);
  header.writeInt32LE(348, 0);
  header.writeInt16LE(dims.length, 40);
  for (let i = 0; i < 7; i++) header.writeInt16LE(dims[i] ?? 1, 42 + 2 * i);
  header.writeInt16LE(16, 70); // float32
  header.writeInt16LE(32, 72);
  const q = affineToQuaternion(affine);
  const pix = [q.qfac, q.pixdim[0]!, q.pixdim[1]!, q.pixdim[2]!, 1, 1, 1, 1];
  pix.forEach((v, i) => header.writeFloatLE(v, 76 + 4 * i));
  header.writeFloatLE(352, 108); // vox_offset
  header.writeFloatLE(1, 112); // scl_slope
  header.writeFloatLE(0, 116); // scl_inter
  header.writeUInt8(10, 123); // xyzt_units: mm + s
  header.write((opts.description ?? 'brainsynth').slice(0, 79), 148, 'latin1');
  header.writeInt16LE(opts.qformCode ?? 1, 252);
  header.writeInt16LE(opts.sformCode ?? 2, 254);
  header.writeFloatLE(q.b, 256);
  header.writeFloatLE(q.c, 260);
  header.writeFloatLE(q.d, 264);
  header.writeFloatLE(affine[0]![3]!, 268);
  header.writeFloatLE(affine[1]![3]!, 272);
  header.writeFloatLE(affine[2]![3]!, 276);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) header.writeFloatLE(affine[r]![c]!, 280 + 16 * r + 4 * c);
  header.write('n+1\0', 344, 'latin1');
  const body = Buffer.from(volume.data.buffer, volume.data.byteOffset, volume.data.byteLength);
  // Node is little-endian on every platform we ship; the header says so implicitly (sizeof_hdr LE).
  return Buffer.concat([header, body]);
}

/** Writes a float32 NIfTI-1 (.nii, or gzip when the path ends in .gz) atomically. */
export function writeNifti(path: string, volume: WritableVolume, affine: Affine, opts: WriteNiftiOptions = {}): void {
  const bytes = encodeNifti(volume, affine, opts);
  writeFileAtomic(path, isGzipPath(path) ? gzipSync(bytes, { level: opts.gzipLevel ?? 6 }) : bytes);
}

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { readNifti, readNiftiHeader, writeNifti, NiftiError } from '../../src/ml/data/nifti';
import { applyReorientation, orientationCode, planReorientation, voxelToWorld } from '../../src/ml/data/orientation';
import { buildNifti, FSL_1MM_AFFINE, hasOpenMs, openMsDir, tempDir, writeFile } from './helpers';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

// FSL MNI152 1 mm as the open MS headers store it: qform only, LAS via qfac = -1 and a 180 deg turn about y.
const LAS_QFORM = { b: 0, c: 1, d: 0, qfac: -1, offset: [90, -126, -72] as [number, number, number], pixdim: [1, 1, 1] as [number, number, number] };

describe('readNifti', () => {
  it.each([
    ['uint8', 2, [0, 7, 255]],
    ['int8', 256, [-128, -1, 127]],
    ['int16', 4, [-32768, -5, 32767]],
    ['uint16', 512, [0, 1234, 65535]],
    ['int32', 8, [-2147483648, 3, 2147483647]],
    ['uint32', 768, [0, 9, 4294967295]],
    ['float32', 16, [-1.5, 0, 3.25]],
    ['float64', 64, [-1e-3, 2.5, 1e6]],
  ])('decodes %s voxels with scl_slope/scl_inter applied', async (name, datatype, raw) => {
    const values = [...raw, 1, 2, 3, 4, 5];
    for (const littleEndian of [true, false]) {
      const path = writeFile(join(tmp.dir, `dt-${name}-${littleEndian}.nii`), buildNifti({ dims: [2, 2, 2], datatype, values: values.slice(0, 8), slope: 2, inter: -1, littleEndian }));
      const v = await readNifti(path);
      expect(v.datatype).toBe(name);
      expect(Array.from(v.data)).toEqual(values.slice(0, 8).map((x) => Math.fround(Math.fround(x) * 2 - 1)));
    }
  });

  it('treats scl_slope 0 as "no scaling"', async () => {
    const path = writeFile(join(tmp.dir, 'slope0.nii'), buildNifti({ dims: [2, 1, 1], datatype: 4, values: [3, 4], slope: 0, inter: 10 }));
    expect(Array.from((await readNifti(path)).data)).toEqual([3, 4]);
  });

  it('builds the affine from the qform when sform_code is 0 (open MS headers) and reports LAS', async () => {
    const path = writeFile(join(tmp.dir, 'qform.nii.gz'), gzipSync(buildNifti({ dims: [3, 4, 5], datatype: 16, values: new Float32Array(60), qform: LAS_QFORM, qformCode: 1 })));
    const h = await readNiftiHeader(path);
    expect(h.affineSource).toBe('qform');
    expect(h.affine).toEqual(FSL_1MM_AFFINE);
    expect(h.orientation).toBe('LAS');
    expect(h.compressed).toBe(true);
  });

  it('prefers the sform when sform_code > 0, even if the qform disagrees', async () => {
    const sform = [
      [2, 0, 0, -10],
      [0, 2, 0, -20],
      [0, 0, 2, -30],
      [0, 0, 0, 1],
    ];
    const path = writeFile(join(tmp.dir, 'sform.nii'), buildNifti({ dims: [2, 2, 2], datatype: 16, values: new Float32Array(8), qform: LAS_QFORM, sform, sformCode: 4 }));
    const h = await readNiftiHeader(path);
    expect(h.affineSource).toBe('sform');
    expect(h.affine).toEqual(sform);
    expect(h.orientation).toBe('RAS');
  });

  it('reads NIfTI-2 headers (64-bit dims and doubles)', async () => {
    const values = Float32Array.from({ length: 24 }, (_, i) => i * 0.5);
    const path = writeFile(join(tmp.dir, 'v2.nii.gz'), gzipSync(buildNifti({ version: 2, dims: [2, 3, 4], datatype: 16, values, qform: LAS_QFORM, qformCode: 1 })));
    const v = await readNifti(path);
    expect(v.version).toBe(2);
    expect(v.dims).toEqual([2, 3, 4]);
    expect(v.affine).toEqual(FSL_1MM_AFFINE);
    expect(Array.from(v.data)).toEqual(Array.from(values));
  });

  it('names the file and the problem for truncated, corrupt, non-NIfTI and huge files', async () => {
    const good = gzipSync(buildNifti({ dims: [40, 40, 40], datatype: 16, values: Float32Array.from({ length: 64000 }, (_, i) => Math.sin(i)) }));
    const cases: [string, Buffer | string, RegExp][] = [
      ['truncated.nii.gz', good.subarray(0, Math.floor(good.length / 2)), /truncated\.nii\.gz: truncated gzip/],
      ['garbage.nii.gz', Buffer.concat([good.subarray(0, 20), Buffer.alloc(good.length - 20, 0x55)]), /garbage\.nii\.gz: .*(corrupt|gzip)/],
      ['text.nii', 'hello, I am not an image\n'.repeat(30), /text\.nii: not a NIfTI file/],
      ['short.nii', buildNifti({ dims: [10, 10, 10], datatype: 16, values: new Float32Array(1000) }).subarray(0, 2000), /short\.nii: truncated: header needs 4352 bytes/],
      ['huge.nii.gz', gzipSync(buildNifti({ dims: [4000, 4000, 4000], datatype: 16, values: [] })), /huge\.nii\.gz: too large: header claims 4000x4000x4000 float32/],
    ];
    for (const [name, bytes, pattern] of cases) {
      const path = writeFile(join(tmp.dir, name), bytes);
      const err = await readNifti(path).catch((e: unknown) => e);
      expect(err, name).toBeInstanceOf(NiftiError);
      expect((err as Error).message, name).toMatch(pattern);
    }
  });
});

describe('writeNifti', () => {
  it('round-trips float32 data and the affine through .nii and .nii.gz (atomic, no temp files left)', async () => {
    const dims: [number, number, number] = [5, 6, 7];
    const data = Float32Array.from({ length: 210 }, (_, i) => i - 100.25);
    for (const name of ['out.nii', 'out.nii.gz']) {
      const path = join(tmp.dir, 'rt', name);
      writeFile(path, '');
      writeNifti(path, { dims, data }, FSL_1MM_AFFINE, { sformCode: 4 });
      const v = await readNifti(path);
      expect(v.dims).toEqual(dims);
      expect(v.affine).toEqual(FSL_1MM_AFFINE);
      expect(v.sformCode).toBe(4);
      expect(Array.from(v.data)).toEqual(Array.from(data));
      expect(v.compressed).toBe(name.endsWith('.gz'));
    }
    // The qform we write encodes the same LAS affine (viewers that read only the qform agree).
    const buf = readFileSync(join(tmp.dir, 'rt', 'out.nii'));
    buf.writeInt16LE(0, 254); // sform_code = 0 -> reader falls back to the qform
    writeFileSync(join(tmp.dir, 'rt', 'qonly.nii'), buf);
    const q = await readNiftiHeader(join(tmp.dir, 'rt', 'qonly.nii'));
    expect(q.affineSource).toBe('qform');
    q.affine.forEach((row, r) => row.forEach((v, c) => expect(v).toBeCloseTo(FSL_1MM_AFFINE[r]![c]!, 5)));
  });
});

describe('orientation', () => {
  it('reorients RAS storage to LAS exactly: same world point, same value', () => {
    const dims = [4, 3, 2];
    const ras = [
      [1, 0, 0, -91],
      [0, 1, 0, -126],
      [0, 0, 1, -72],
      [0, 0, 0, 1],
    ];
    expect(orientationCode(ras)).toBe('RAS');
    const data = Float32Array.from({ length: 24 }, (_, i) => i);
    const plan = planReorientation(ras, dims, 'LAS');
    expect(orientationCode(plan.affine)).toBe('LAS');
    const las = applyReorientation(data, dims, plan);
    for (let k = 0; k < 2; k++)
      for (let j = 0; j < 3; j++)
        for (let i = 0; i < 4; i++) {
          const iRas = 3 - i;
          expect(las[i + 4 * (j + 3 * k)]).toBe(data[iRas + 4 * (j + 3 * k)]);
          expect(voxelToWorld(plan.affine, i, j, k)).toEqual(voxelToWorld(ras, iRas, j, k));
        }
  });

  it('handles permuted axes (e.g. PIR storage)', () => {
    const pir = [
      [0, 0, 1, -90],
      [-1, 0, 0, 100],
      [0, -1, 0, 80],
      [0, 0, 0, 1],
    ];
    expect(orientationCode(pir)).toBe('PIR');
    const dims = [3, 4, 5];
    const data = Float32Array.from({ length: 60 }, (_, i) => i);
    const plan = planReorientation(pir, dims, 'LAS');
    expect(plan.dims).toEqual([5, 3, 4]);
    const las = applyReorientation(data, dims, plan);
    // Every LAS voxel holds the value of the stored voxel at the same world position.
    for (let k = 0; k < 4; k++)
      for (let j = 0; j < 3; j++)
        for (let i = 0; i < 5; i++) {
          const w = voxelToWorld(plan.affine, i, j, k);
          const src = [100 - w[1], 80 - w[2], w[0] + 90];
          expect(las[i + 5 * (j + 3 * k)]).toBe(data[src[0]! + 3 * (src[1]! + 4 * src[2]!)]);
        }
  });
});

describe.skipIf(!hasOpenMs)('open MS MNI data (../shared)', () => {
  it('reads patient07 FLAIR: FSL 1 mm LAS grid from the qform, float32', async () => {
    const path = join(openMsDir, 'sub-patient07', 'anat', 'sub-patient07_FLAIR.nii.gz');
    expect(existsSync(path)).toBe(true);
    const v = await readNifti(path);
    expect(v.dims).toEqual([182, 218, 182]);
    expect(v.affine).toEqual(FSL_1MM_AFFINE);
    expect(v.orientation).toBe('LAS');
    expect([v.qformCode, v.sformCode, v.affineSource]).toEqual([1, 0, 'qform']);
    expect(v.datatype).toBe('float32');
    expect(v.data.length).toBe(182 * 218 * 182);
  });
});

describe('world <-> voxel', () => {
  it('inverts the FSL affine: MNI origin is voxel (90, 126, 72)', async () => {
    const { worldToVoxel } = await import('../../src/ml/data/orientation');
    expect(worldToVoxel(FSL_1MM_AFFINE, 0, 0, 0)).toEqual([90, 126, 72]);
    expect(voxelToWorld(FSL_1MM_AFFINE, 11, 0, 91)).toEqual([79, -126, 19]);
  });
});

describe('hostile and odd headers', () => {
  /** NIfTI-1 bytes with vox_offset (a float32 at byte 108) overwritten. */
  function withVoxOffset(voxOffset: number): Buffer {
    const bytes = buildNifti({ dims: [2, 2, 2], datatype: 16, values: new Float32Array(8).fill(1) });
    bytes.writeFloatLE(voxOffset, 108);
    return bytes;
  }

  it('refuses a uint8 header bomb from the header: 1200x1100x1100 would decode to 5.4 GiB of float32', async () => {
    // The body is a few bytes only: the refusal must come before any decompression is attempted.
    const header = buildNifti({ dims: [1200, 1100, 1100], datatype: 2, values: [] });
    const path = writeFile(join(tmp.dir, 'bomb_FLAIR.nii.gz'), gzipSync(header).subarray(0, 200));
    const err = await readNifti(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NiftiError);
    expect((err as Error).message).toMatch(/bomb_FLAIR\.nii\.gz: too large: header claims 1200x1100x1100 uint8 = 5539 MiB of voxels once decoded to float32, over the 1536 MiB limit \(not read\)/);
  });

  it.each([
    ['NaN', Number.NaN],
    ['1e12', 1e12],
    ['negative', -352],
    ['fractional', 352.5],
  ])('refuses vox_offset %s by name, in .nii and .nii.gz', async (label, voxOffset) => {
    for (const name of [`vox-${label}.nii`, `vox-${label}.nii.gz`]) {
      const bytes = withVoxOffset(voxOffset);
      const path = writeFile(join(tmp.dir, name), name.endsWith('.gz') ? gzipSync(bytes) : bytes);
      const err = await readNifti(path).catch((e: unknown) => e);
      expect(err, name).toBeInstanceOf(NiftiError);
      expect((err as Error).message, name).toMatch(new RegExp(`^${name.replace(/\./g, '\\.')}: invalid vox_offset`));
    }
  });

  it('reads the qform as nifti1_io does: a negative pixdim[3] with qfac +1 does not flip the z axis', async () => {
    // nifti_quatern_to_mat44 replaces a non-positive spacing by 1; only qfac (pixdim[0]) mirrors z.
    const qform = { ...LAS_QFORM, qfac: 1, pixdim: [1, 1, -1] as [number, number, number] };
    const path = writeFile(join(tmp.dir, 'negpixdim.nii'), buildNifti({ dims: [3, 4, 5], datatype: 16, values: new Float32Array(60), qform, qformCode: 1 }));
    const h = await readNiftiHeader(path);
    expect(h.affine).toEqual([
      [-1, 0, 0, 90],
      [0, 1, 0, -126],
      [0, 0, -1, -72],
      [0, 0, 0, 1],
    ]);
    expect(h.orientation).toBe('LAI');
    // The usual way to store LAS (qfac -1, positive spacing) is unaffected.
    const las = writeFile(join(tmp.dir, 'las.nii'), buildNifti({ dims: [3, 4, 5], datatype: 16, values: new Float32Array(60), qform: LAS_QFORM, qformCode: 1 }));
    expect((await readNiftiHeader(las)).affine).toEqual(FSL_1MM_AFFINE);
  });

  it('a negative spacing never scales the qform: pixdim -2 counts as 1, as in nifti1_io', async () => {
    const qform = { b: 0, c: 0, d: 0, qfac: 1, offset: [0, 0, 0] as [number, number, number], pixdim: [-2, 2, 2] as [number, number, number] };
    const path = writeFile(join(tmp.dir, 'negx.nii'), buildNifti({ dims: [2, 2, 2], datatype: 16, values: new Float32Array(8), qform, qformCode: 1 }));
    expect((await readNiftiHeader(path)).affine[0]).toEqual([1, 0, 0, 0]);
  });

  it('refuses a named pipe named like a volume instead of waiting for a writer', { timeout: 15_000 }, async () => {
    const fifo = join(tmp.dir, 'pipe_FLAIR.nii.gz');
    execFileSync('mkfifo', [fifo]);
    for (const read of [() => readNiftiHeader(fifo), () => readNifti(fifo)]) {
      const err = await read().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(NiftiError);
      expect((err as Error).message).toBe('pipe_FLAIR.nii.gz: not a regular file (a named pipe); only ordinary files are read');
    }
  });

  it('refuses a device or a folder named like a volume', async () => {
    const device = join(tmp.dir, 'zero_T1w.nii');
    symlinkSync('/dev/zero', device);
    await expect(readNifti(device)).rejects.toThrow(/zero_T1w\.nii: not a regular file \(a device\)/);
    const folder = join(tmp.dir, 'folder_T1w.nii.gz');
    mkdirSync(folder);
    await expect(readNifti(folder)).rejects.toThrow(/folder_T1w\.nii\.gz: not a regular file \(a folder\)/);
  });
});

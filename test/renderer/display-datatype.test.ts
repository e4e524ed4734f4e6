import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import * as nifti from 'nifti-reader-js';
import { narrowLossless, NIFTI_INT16, NIFTI_UINT8, rewriteNifti } from '../../src/renderer/src/components/niivue/display-datatype';
import { decodeVolume } from '../../src/renderer/src/components/niivue/volume-decode';

/** A single-file NIfTI-1 (float32 voxels, 1 mm, optional comment extension) in the given byte order. */
function float32Nifti(dims: [number, number, number], data: Float32Array, opts: { littleEndian?: boolean; slope?: number; inter?: number; extension?: Uint8Array } = {}): ArrayBuffer {
  const le = opts.littleEndian ?? true;
  const ext = opts.extension ?? new Uint8Array(0);
  const extSize = ext.length ? Math.ceil((8 + ext.length) / 16) * 16 : 0;
  const voxOffset = 352 + extSize;
  const out = new ArrayBuffer(voxOffset + data.byteLength);
  const v = new DataView(out);
  v.setInt32(0, 348, le);
  [3, ...dims, 1, 1, 1, 1].forEach((d, i) => v.setInt16(40 + 2 * i, d, le));
  v.setInt16(70, 16, le);
  v.setInt16(72, 32, le);
  for (let i = 0; i < 8; i++) v.setFloat32(76 + 4 * i, 1, le);
  v.setFloat32(108, voxOffset, le);
  v.setFloat32(112, opts.slope ?? 1, le);
  v.setFloat32(116, opts.inter ?? 0, le);
  new Uint8Array(out).set(new TextEncoder().encode('n+1\0'), 344);
  if (ext.length) {
    new Uint8Array(out).set([1, 0, 0, 0], 348);
    v.setInt32(352, extSize, le); // esize
    v.setInt32(356, 6, le); // ecode: comment
    new Uint8Array(out).set(ext, 360);
  }
  for (let i = 0; i < data.length; i++) v.setFloat32(voxOffset + 4 * i, data[i]!, le);
  return out;
}

/** The stored values of a NIfTI file as numbers, in file order (not scaled). */
function storedValues(file: ArrayBuffer): { datatype: number; bitpix: number; values: number[]; slope: number; inter: number } {
  const header = nifti.readHeader(file);
  const image = nifti.readImage(header, file);
  const view = new DataView(image);
  const n = header.dims[1]! * header.dims[2]! * header.dims[3]!;
  const read: Record<number, (i: number) => number> = {
    2: (i) => view.getUint8(i),
    4: (i) => view.getInt16(2 * i, header.littleEndian),
    16: (i) => view.getFloat32(4 * i, header.littleEndian),
  };
  return {
    datatype: header.datatypeCode,
    bitpix: header.numBitsPerVoxel,
    values: Array.from({ length: n }, (_, i) => read[header.datatypeCode]!(i)),
    slope: header.scl_slope,
    inter: header.scl_inter,
  };
}

const toArrayBuffer = (b: Uint8Array) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

describe('narrowLossless', () => {
  it('turns a 0/1 float32 mask into uint8 with the same values', () => {
    const mask = new Float32Array([0, 1, 1, 0, 0, 1, 0, 0]);
    const n = narrowLossless(mask, 16);
    expect(n?.datatype).toBe(NIFTI_UINT8);
    expect(Array.from(n!.data)).toEqual(Array.from(mask));
  });

  it('uses int16 for integers beyond 0..255 (negative included), at both ends of its range', () => {
    const values = new Float32Array([-32768, -1, 0, 256, 1234, 32767]);
    const n = narrowLossless(values, 16);
    expect(n?.datatype).toBe(NIFTI_INT16);
    expect(Array.from(n!.data)).toEqual(Array.from(values));
  });

  it('keeps volumes it cannot hold exactly: fractions, NaN, out-of-range integers', () => {
    expect(narrowLossless(new Float32Array([0, 1.5, 2]), 16)).toBeNull();
    expect(narrowLossless(new Float32Array([0, NaN, 2]), 16)).toBeNull();
    expect(narrowLossless(new Float32Array([0, Infinity]), 16)).toBeNull();
    expect(narrowLossless(new Float32Array([0, 32768]), 16)).toBeNull();
    expect(narrowLossless(new Float32Array([-32769, 0]), 16)).toBeNull();
  });

  it('never widens or re-stores a type that is already as small', () => {
    expect(narrowLossless(new Uint8Array([0, 1, 2]), 2)).toBeNull();
    expect(narrowLossless(new Int16Array([-5, 300]), 4)).toBeNull();
    // int16 holding 0..255 still shrinks to uint8.
    expect(narrowLossless(new Int16Array([0, 200]), 4)?.datatype).toBe(NIFTI_UINT8);
    expect(narrowLossless(new Float32Array(0), 16)).toBeNull();
  });
});

describe('rewriteNifti', () => {
  for (const littleEndian of [true, false]) {
    it(`round-trips every stored value exactly and keeps the header and extension (${littleEndian ? 'little' : 'big'}-endian)`, () => {
      const data = new Float32Array(2 * 3 * 2).map((_, i) => (i % 3 === 0 ? -1000 * i - 1 : i * 7));
      const extension = new TextEncoder().encode('acquired on a 3 T scanner');
      const file = float32Nifti([2, 3, 2], data, { littleEndian, slope: 0.5, inter: -3, extension });
      const narrow = narrowLossless(data, 16)!;
      expect(narrow.datatype).toBe(NIFTI_INT16);
      const header = nifti.readHeader(file);
      const out = rewriteNifti(file, narrow, header.littleEndian, header.vox_offset);
      const back = storedValues(out);
      expect(back.datatype).toBe(NIFTI_INT16);
      expect(back.bitpix).toBe(16);
      expect(back.values).toEqual(Array.from(data));
      expect([back.slope, back.inter]).toEqual([0.5, -3]);
      // Header and extension bytes other than datatype/bitpix are unchanged.
      const a = new Uint8Array(file, 0, header.vox_offset);
      const b = new Uint8Array(out, 0, header.vox_offset);
      const differing = [...a.keys()].filter((i) => a[i] !== b[i]);
      expect(differing.every((i) => i >= 70 && i < 74)).toBe(true);
      expect(out.byteLength).toBe(header.vox_offset + 2 * data.length);
    });
  }
});

describe('decodeVolume sends the smallest exact datatype', () => {
  it('a float32 lesion mask arrives as uint8 with the same voxels and a window over its values', async () => {
    const mask = new Float32Array(4 * 4 * 4).map((_, i) => (i % 5 === 0 ? 1 : 0));
    const out = await decodeVolume(toArrayBuffer(gzipSync(new Uint8Array(float32Nifti([4, 4, 4], mask)))), 'sub-01_label-lesion_mask.nii.gz');
    const back = storedValues(out.nii);
    expect(back.datatype).toBe(NIFTI_UINT8);
    expect(back.values).toEqual(Array.from(mask));
    expect(out.nii.byteLength).toBe(352 + 64);
    const header = nifti.readHeader(out.nii);
    expect([header.cal_min, header.cal_max]).toEqual(out.defaultWindow);
  });

  it('a float32 volume with fractional intensities stays float32, values untouched', async () => {
    const data = new Float32Array(4 * 4 * 4).map((_, i) => i * 0.37);
    const out = await decodeVolume(float32Nifti([4, 4, 4], data), 'sub-01_FLAIR.nii');
    const back = storedValues(out.nii);
    expect(back.datatype).toBe(16);
    expect(back.values).toEqual(Array.from(data));
  });
});

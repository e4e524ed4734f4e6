import { describe, expect, it } from 'vitest';
import * as nifti from 'nifti-reader-js';
import { boxWithin, CROP_MARGIN, cropNifti, displayBox, padBox, signalBox, unionBox, type VoxelBox } from '../../src/renderer/src/components/niivue/volume-crop';

/** A NIfTI-1 file of int16 voxels with the given qform (quaternion b, c, d, qfac, offset) and/or sform rows. */
function int16Nifti(
  dims: [number, number, number],
  data: Int16Array,
  opts: { pixdim?: [number, number, number]; quatern?: [number, number, number]; qfac?: number; qoffset?: [number, number, number]; sform?: number[][]; qformCode?: number; sformCode?: number; littleEndian?: boolean },
): ArrayBuffer {
  const le = opts.littleEndian ?? true;
  const out = new ArrayBuffer(352 + data.byteLength);
  const v = new DataView(out);
  v.setInt32(0, 348, le);
  [3, ...dims, 1, 1, 1, 1].forEach((d, i) => v.setInt16(40 + 2 * i, d, le));
  v.setInt16(70, 4, le);
  v.setInt16(72, 16, le);
  const pix = opts.pixdim ?? [1, 1, 1];
  v.setFloat32(76, opts.qfac ?? 1, le);
  pix.forEach((p, i) => v.setFloat32(80 + 4 * i, p, le));
  v.setFloat32(108, 352, le);
  v.setFloat32(112, 1, le);
  v.setInt16(252, opts.qformCode ?? 0, le);
  v.setInt16(254, opts.sformCode ?? 0, le);
  (opts.quatern ?? [0, 0, 0]).forEach((q, i) => v.setFloat32(256 + 4 * i, q, le));
  (opts.qoffset ?? [0, 0, 0]).forEach((q, i) => v.setFloat32(268 + 4 * i, q, le));
  (opts.sform ?? [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]]).forEach((row, r) => row.forEach((x, k) => v.setFloat32(280 + 16 * r + 4 * k, x, le)));
  new Uint8Array(out).set(new TextEncoder().encode('n+1\0'), 344);
  data.forEach((x, i) => v.setInt16(352 + 2 * i, x, le));
  return out;
}

const world = (affine: number[][], i: number, j: number, k: number) => [0, 1, 2].map((r) => affine[r]![0]! * i + affine[r]![1]! * j + affine[r]![2]! * k + affine[r]![3]!);

/** Every voxel of the cropped file has the value and world position of the same voxel of the original. */
function expectFaithfulCrop(original: ArrayBuffer, cropped: ArrayBuffer, box: VoxelBox): void {
  const h0 = nifti.readHeader(original);
  const h1 = nifti.readHeader(cropped);
  expect(h1.dims.slice(1, 4)).toEqual([box[3] - box[0], box[4] - box[1], box[5] - box[2]]);
  const v0 = new DataView(nifti.readImage(h0, original));
  const v1 = new DataView(nifti.readImage(h1, cropped));
  const [nx, ny] = h0.dims.slice(1, 3) as [number, number];
  const [cx, cy, cz] = h1.dims.slice(1, 4) as [number, number, number];
  for (let k = 0; k < cz; k++)
    for (let j = 0; j < cy; j++)
      for (let i = 0; i < cx; i++) {
        const [I, J, K] = [i + box[0], j + box[1], k + box[2]];
        expect(v1.getInt16(2 * (i + cx * (j + cy * k)), h1.littleEndian)).toBe(v0.getInt16(2 * (I + nx * (J + ny * K)), h0.littleEndian));
        const a = world(h0.affine, I, J, K);
        const b = world(h1.affine, i, j, k);
        for (let r = 0; r < 3; r++) expect(b[r]).toBeCloseTo(a[r]!, 4);
      }
}

/** 6x5x4 volume with signal in x 1..3, y 2..3, z 1..2 (values i + 10 j + 100 k + 1 there). */
function blob(): Int16Array {
  const d = new Int16Array(6 * 5 * 4);
  for (let k = 1; k <= 2; k++) for (let j = 2; j <= 3; j++) for (let i = 1; i <= 3; i++) d[i + 6 * (j + 5 * k)] = i + 10 * j + 100 * k + 1;
  return d;
}

describe('signal boxes', () => {
  it('finds the smallest box around the non-zero voxels', () => {
    expect(signalBox(blob(), [6, 5, 4])).toEqual([1, 2, 1, 4, 4, 3]);
    expect(signalBox(new Int16Array(8), [2, 2, 2])).toBeNull();
    expect(signalBox(new Float32Array([0, NaN, 0, 0]), [2, 2, 1])).toEqual([1, 0, 0, 2, 1, 1]);
  });

  it('unions and pads within the grid', () => {
    expect(unionBox([[1, 2, 1, 4, 4, 3], null, [0, 3, 2, 2, 5, 4]])).toEqual([0, 2, 1, 4, 5, 4]);
    expect(unionBox([null])).toBeNull();
    expect(padBox([1, 2, 1, 4, 4, 3], 2, [6, 5, 4])).toEqual([0, 0, 0, 6, 5, 4]);
    expect(padBox([2, 2, 2, 3, 3, 3], 1, [6, 5, 4])).toEqual([1, 1, 1, 4, 4, 4]);
  });
});

describe('displayBox', () => {
  it('pads the union of the signal by CROP_MARGIN voxels, and only crops when it saves a fifth', () => {
    const m = CROP_MARGIN;
    expect(displayBox([[40, 40, 40, 60, 60, 60], [50, 50, 50, 70, 70, 70]], [100, 100, 100])).toEqual([40 - m, 40 - m, 40 - m, 70 + m, 70 + m, 70 + m]);
    expect(displayBox([[1, 1, 1, 99, 99, 99]], [100, 100, 100])).toBeNull();
    expect(displayBox([null, null], [100, 100, 100])).toBeNull();
  });

  it('tells whether a volume\'s signal fits a box', () => {
    expect(boxWithin([40, 40, 40, 60, 60, 60], [38, 38, 38, 72, 72, 72])).toBe(true);
    expect(boxWithin([40, 40, 30, 60, 60, 60], [38, 38, 38, 72, 72, 72])).toBe(false);
    expect(boxWithin(null, [38, 38, 38, 72, 72, 72])).toBe(true);
  });
});

describe('cropNifti', () => {
  const box: VoxelBox = [1, 2, 1, 4, 4, 3];

  it('keeps values and world positions with an sform (oblique, anisotropic)', () => {
    const sform = [
      [-0.9, 0.1, 0.05, 90],
      [0.1, 1.1, -0.2, -126],
      [0.02, 0.3, 2.5, -72],
    ];
    const file = int16Nifti([6, 5, 4], blob(), { sform, sformCode: 4, pixdim: [0.9, 1.1, 2.5] });
    const out = cropNifti(file, box)!;
    expect(out).not.toBeNull();
    expectFaithfulCrop(file, out, box);
  });

  for (const littleEndian of [true, false]) {
    it(`keeps values and world positions with a rotated qform and qfac -1 (${littleEndian ? 'little' : 'big'}-endian)`, () => {
      // An oblique rotation: b, c, d of a unit quaternion (a > 0 follows from them).
      const q = [0.2, -0.1, 0.15];
      const file = int16Nifti([6, 5, 4], blob(), { quatern: q as [number, number, number], qfac: -1, qoffset: [12.5, -30, 7], qformCode: 1, pixdim: [1.2, 0.8, 3], littleEndian });
      const out = cropNifti(file, box)!;
      expect(out).not.toBeNull();
      expectFaithfulCrop(file, out, box);
    });
  }

  it('declines what it cannot crop faithfully or usefully', () => {
    // No qform and no sform: world = voxel index, which a crop would shift.
    expect(cropNifti(int16Nifti([6, 5, 4], blob(), {}), box)).toBeNull();
    const ok = int16Nifti([6, 5, 4], blob(), { sformCode: 1 });
    expect(cropNifti(ok, [0, 0, 0, 6, 5, 4])).toBeNull();
    expect(cropNifti(ok, [0, 0, 0, 7, 5, 4])).toBeNull();
    expect(cropNifti(ok, [2, 0, 0, 2, 5, 4])).toBeNull();
  });
});

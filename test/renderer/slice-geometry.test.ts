import { describe, expect, it } from 'vitest';
import { axialAxis, mmToVox, roundVox, runsOf, sliceMniZ, toLasZ, voxToMm, withAxialIndex } from '../../src/renderer/src/views/data/slice-geometry';

// FSL MNI152 1 mm (LAS, as the open MS data): x flipped, origin at voxel (90, 126, 72).
const LAS = [
  [-1, 0, 0, 90],
  [0, 1, 0, -126],
  [0, 0, 1, -72],
  [0, 0, 0, 1],
];
const DIMS = [182, 218, 182];

describe('slice geometry', () => {
  it('finds the axial axis and the MNI z of a slice', () => {
    expect(axialAxis(LAS)).toBe(2);
    expect(sliceMniZ(LAS, 72)).toBe(0);
    expect(sliceMniZ(LAS, 90)).toBe(18);
    // A volume stored with the inferior-superior axis first.
    const permuted = [
      [0, -1, 0, 90],
      [0, 0, 1, -126],
      [2, 0, 0, -72],
      [0, 0, 0, 1],
    ];
    expect(axialAxis(permuted)).toBe(0);
    expect(sliceMniZ(permuted, 10)).toBe(-52);
  });

  it('round-trips voxel <-> mm through the affine', () => {
    const vox = [12, 200, 91];
    const mm = voxToMm(LAS, vox);
    expect(mm).toEqual([78, 74, 19]);
    expect(mmToVox(LAS, mm).map((v) => Math.round(v * 1e9) / 1e9)).toEqual(vox);
    const oblique = [
      [0.9, 0.1, 0, 3],
      [-0.1, 1.1, 0.2, -5],
      [0, 0.3, 1.2, 7],
      [0, 0, 0, 1],
    ];
    const back = mmToVox(oblique, voxToMm(oblique, [4, 5, 6]));
    back.forEach((v, i) => expect(v).toBeCloseTo([4, 5, 6][i]!, 9));
  });

  it('maps native axial indices to LAS z (flipped axis) and clamps rounding', () => {
    expect(toLasZ(LAS, DIMS, 30)).toBe(30);
    const lpi = [
      [-1, 0, 0, 90],
      [0, -1, 0, 91],
      [0, 0, -1, 109],
      [0, 0, 0, 1],
    ];
    expect(toLasZ(lpi, DIMS, 0)).toBe(181);
    expect(roundVox([-0.4, 217.6, 90.5], DIMS)).toEqual([0, 217, 91]);
    expect(withAxialIndex(LAS, [1, 2, 3], 50)).toEqual([1, 2, 50]);
  });

  it('groups prepared indices into runs', () => {
    expect(runsOf([5, 3, 4, 9, 10, 4])).toEqual([
      { start: 3, stop: 6 },
      { start: 9, stop: 11 },
    ]);
    expect(runsOf([])).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import {
  extractAxialSlice,
  minMaxStats,
  normaliseSlice,
  parseSlicePreset,
  percentileStats,
  selectSlices,
  sliceMapping,
  toUint8Truncated,
  validMask,
  SLICE_WIDTH,
} from '../../src/ml/data/slices';
import { assignSplits, parseSplitFractions } from '../../src/ml/data/split';
import { checkVolume, matchMniGrid, MNI_GRIDS } from '../../src/ml/data/mni';
import { planReorientation } from '../../src/ml/data/orientation';
import { readNiftiHeader } from '../../src/ml/data/nifti';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FSL_1MM_AFFINE, FSL_2MM_AFFINE, templatesDir } from './helpers';

describe('slice mapping 182x218 -> 160x224', () => {
  it('crops x to 11..170 and pads y with 3 zero columns each side: tensor[r, c] = vol[11 + r, c - 3, z]', () => {
    const dims = [182, 218, 3];
    expect(sliceMapping(dims)).toEqual({ xStart: 11, yStart: -3 });
    const vol = new Float32Array(182 * 218 * 3);
    for (let z = 0; z < 3; z++) for (let y = 0; y < 218; y++) for (let x = 0; x < 182; x++) vol[x + 182 * (y + 218 * z)] = 1 + x * 1000 + y + z * 1e6;
    const s = extractAxialSlice(vol, dims, 2);
    for (const [r, c] of [
      [0, 3],
      [0, 0],
      [159, 220],
      [159, 221],
      [80, 112],
      [5, 2],
    ] as const) {
      const y = c - 3;
      const expected = y >= 0 && y < 218 ? 1 + (r + 11) * 1000 + y + 2e6 : 0;
      expect(s[r * SLICE_WIDTH + c], `r${r} c${c}`).toBe(expected);
    }
    const valid = validMask(dims);
    expect(valid[0 * SLICE_WIDTH + 2]).toBe(0);
    expect(valid[0 * SLICE_WIDTH + 3]).toBe(1);
    expect(valid[0 * SLICE_WIDTH + 221]).toBe(0);
  });

  it('clips negative intensities to 0', () => {
    const dims = [160, 224, 1];
    const vol = Float32Array.from({ length: 160 * 224 }, (_, i) => (i % 2 ? -52 : 7));
    const s = extractAxialSlice(vol, dims, 0);
    expect(Math.min(...s)).toBe(0);
    expect(Math.max(...s)).toBe(7);
  });

  it('min-max then x255 truncation matches the reference float32 arithmetic', () => {
    const block = [Float32Array.from([0, 1, 2, 3, 100, 50.5, 99.99]), Float32Array.from([10, 20, 30, 40, 0, 0, 0])];
    const stats = minMaxStats(block);
    expect([stats.low, stats.high]).toEqual([0, 100]);
    const s = Float32Array.from(block[0]!);
    normaliseSlice(s, stats);
    const u8 = toUint8Truncated(s);
    // numpy: ((v - 0) / 100).astype(float32) * 255 -> astype(uint8) truncates (99.99 -> 254, 50.5 -> 128)
    expect(Array.from(u8)).toEqual([0, 2, 5, 7, 255, 128, 254]);
  });

  it('percentile normalisation is robust to one bright outlier where min-max is not', () => {
    const vol = new Float32Array(10000);
    for (let i = 0; i < 9000; i++) vol[i] = 100 + (i % 100);
    vol[9000] = 1e5; // a single hot voxel
    const mm = minMaxStats([vol]);
    const pc = percentileStats(vol, [0.5, 99.5]);
    const median = (stats: typeof mm) => {
      const s = Float32Array.of(150);
      normaliseSlice(s, stats);
      return s[0]!;
    };
    expect(median(mm)).toBeLessThan(0.01);
    expect(median(pc)).toBeCloseTo(0.5, 1);
    expect([pc.low, pc.high]).toEqual([expect.closeTo(100, 0), expect.closeTo(199, 0)]);
    const background = Float32Array.of(0);
    normaliseSlice(background, pc);
    expect(background[0]).toBe(0);
  });
});

describe('slice presets', () => {
  const dims = [20, 20, 30];
  const vol = new Float32Array(20 * 20 * 30);
  // brain area grows toward z = 15: slices 10..19 full, 5..9 and 20..24 small, others empty
  for (let z = 0; z < 30; z++) {
    const radius = z >= 10 && z < 20 ? 10 : z >= 5 && z < 25 ? 2 : 0;
    for (let y = 0; y < radius; y++) for (let x = 0; x < radius; x++) vol[x + 20 * (y + 20 * z)] = 5;
  }
  it('reference = 5 adjacent central slices', () => {
    expect(selectSlices({ kind: 'reference' }, [182, 218, 182], vol, vol)).toEqual([89, 90, 91, 92, 93]);
  });
  it('brain-band keeps the slices with enough brain', () => {
    expect(selectSlices({ kind: 'brain-band' }, dims, vol, vol)).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    expect(selectSlices({ kind: 'brain-band', minBrainFraction: 0.01 }, dims, vol, vol)).toEqual(Array.from({ length: 20 }, (_, i) => i + 5));
  });
  it('explicit A:B ranges are python-style and validated', () => {
    expect(selectSlices(parseSlicePreset('3:6'), dims, vol, vol)).toEqual([3, 4, 5]);
    expect(parseSlicePreset('brain-band:0.4')).toEqual({ kind: 'brain-band', minBrainFraction: 0.4 });
    expect(() => parseSlicePreset('6:3')).toThrow(/stop must be greater/);
    expect(() => parseSlicePreset('middle')).toThrow(/expected reference, brain-band/);
  });
});

describe('subject split', () => {
  const subjects = Array.from({ length: 30 }, (_, i) => `sub-p${String(i).padStart(2, '0')}`);
  it('is deterministic per seed, disjoint, complete and follows the fractions', () => {
    const a = assignSplits(subjects, [0.8, 0.1, 0.1], 7);
    const b = assignSplits([...subjects].reverse(), [0.8, 0.1, 0.1], 7);
    expect([...a.entries()].sort()).toEqual([...b.entries()].sort());
    const counts = { train: 0, validation: 0, test: 0 };
    for (const s of a.values()) counts[s]++;
    expect(counts).toEqual({ train: 24, validation: 3, test: 3 });
    expect(a.size).toBe(30);
    const c = assignSplits(subjects, [0.8, 0.1, 0.1], 8);
    expect([...c.entries()].sort()).not.toEqual([...a.entries()].sort());
  });
  it('honours pinned subjects and gives each non-empty split a subject on tiny datasets', () => {
    const s = assignSplits(['sub-patient07', 'sub-patient19', 'sub-patient26'], [0.8, 0.1, 0.1], 0, { 'sub-patient19': 'test' });
    expect(s.get('sub-patient19')).toBe('test');
    expect(new Set(s.values())).toEqual(new Set(['train', 'validation', 'test']));
    expect(() => assignSplits(['a'], [1, 0, 0], 0, { b: 'test' })).toThrow(/pinned subject b is not in the dataset/);
  });
  it('parses --split and rejects fractions that do not sum to 1', () => {
    expect(parseSplitFractions('0.7,0.2,0.1')).toEqual([0.7, 0.2, 0.1]);
    expect(() => parseSplitFractions('0.5,0.2,0.1')).toThrow(/sum to 1/);
    expect(() => parseSplitFractions('0.5,0.5')).toThrow(/three/);
  });
});

describe('MNI grid recognition', () => {
  it('recognises the FSL 1 mm and 2 mm grids, also when stored RAS', () => {
    expect(matchMniGrid([182, 218, 182], FSL_1MM_AFFINE)?.id).toBe('fsl-mni152-1mm');
    expect(matchMniGrid([91, 109, 91], FSL_2MM_AFFINE)?.id).toBe('fsl-mni152-2mm');
    const ras = planReorientation(FSL_1MM_AFFINE, [182, 218, 182], 'RAS');
    expect(matchMniGrid(ras.dims, ras.affine)?.id).toBe('fsl-mni152-1mm');
  });
  it('accepts half-voxel float noise but not a shifted or resized grid', () => {
    const noisy = FSL_1MM_AFFINE.map((row) => row.map((v) => v + 1e-5));
    expect(matchMniGrid([182, 218, 182], noisy)?.id).toBe('fsl-mni152-1mm');
    const shifted = FSL_1MM_AFFINE.map((row, r) => row.map((v, c) => (r === 0 && c === 3 ? v + 2 : v)));
    expect(matchMniGrid([182, 218, 182], shifted)).toBeUndefined();
    expect(matchMniGrid([181, 218, 182], FSL_1MM_AFFINE)).toBeUndefined();
  });
  it.skipIf(!existsSync(join(templatesDir, 'avg152T1.nii')))('recognises the shared template grids from their headers', async () => {
    const icbm = await readNiftiHeader(join(templatesDir, 'mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz'));
    expect(matchMniGrid(icbm.dims, icbm.affine)?.id).toBe('icbm2009a-1mm');
    const spm = await readNiftiHeader(join(templatesDir, 'avg152T1.nii'));
    expect(matchMniGrid(spm.dims, spm.affine)?.id).toBe('fsl-mni152-2mm');
    expect(checkVolume(spm).notes).toEqual([]); // its header says MNI (code 4)
  });
  it('flags NaN/Inf, empty and 4D volumes, and notes a non-MNI header code on a matching grid', () => {
    const base = { shape: [91, 109, 91], dims: [91, 109, 91] as [number, number, number], frames: 1, affine: FSL_2MM_AFFINE, orientation: 'LAS', qformCode: 1, sformCode: 0 };
    const info = base as unknown as Parameters<typeof checkVolume>[0];
    const data = new Float32Array(91 * 109 * 91);
    expect(checkVolume(info, data).errors).toEqual(['empty volume (every voxel is zero)']);
    expect(checkVolume(info, data, { allowEmpty: true }).errors).toEqual([]);
    data[5] = NaN;
    data[6] = Infinity;
    data[7] = 3;
    expect(checkVolume(info, data).errors).toEqual(['1 NaN voxel(s)', '1 infinite voxel(s)']);
    expect(checkVolume(info, data).notes[0]).toMatch(/header does not say MNI \(qform_code 1, sform_code 0\); accepted because shape and affine match/);
    const fourD = { ...base, shape: [91, 109, 91, 2], frames: 2 } as unknown as Parameters<typeof checkVolume>[0];
    expect(checkVolume(fourD).errors[0]).toMatch(/^4D data \(91x109x91x2\)/);
    expect(MNI_GRIDS.length).toBeGreaterThanOrEqual(4);
  });
});

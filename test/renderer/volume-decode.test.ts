import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import * as nifti from 'nifti-reader-js';
import { decodeVolume, intensityStats, percentileOf } from '../../src/renderer/src/components/niivue/volume-decode';
import { dragWindow, presetWindow, WINDOW_PRESETS } from '../../src/renderer/src/views/data/window-level';

/** A minimal single-file NIfTI-1 (float32, 1 mm voxels) around `data`. */
function encodeNifti(dims: [number, number, number], data: Float32Array): Uint8Array {
  const out = new Uint8Array(352 + data.byteLength);
  const v = new DataView(out.buffer);
  v.setInt32(0, 348, true);
  [3, ...dims, 1, 1, 1, 1].forEach((d, i) => v.setInt16(40 + 2 * i, d, true));
  v.setInt16(70, 16, true); // float32
  v.setInt16(72, 32, true);
  for (let i = 0; i < 8; i++) v.setFloat32(76 + 4 * i, 1, true);
  v.setFloat32(108, 352, true); // vox_offset
  v.setFloat32(112, 1, true); // scl_slope
  out.set(new TextEncoder().encode('n+1\0'), 344);
  out.set(new Uint8Array(data.buffer), 352);
  return out;
}

/** A 4x4x4 volume: half background (0), the rest 1..32 once each. */
function volume(): Float32Array {
  const data = new Float32Array(64);
  for (let i = 0; i < 32; i++) data[32 + i] = i + 1;
  return data;
}

const toArrayBuffer = (b: Uint8Array) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

describe('intensityStats', () => {
  it('takes percentiles over the non-zero voxels only', () => {
    const s = intensityStats(volume());
    expect(s.count).toBe(32);
    expect(s.min).toBe(0);
    expect(s.max).toBe(32);
    expect(percentileOf(s, 0)).toBe(1);
    expect(percentileOf(s, 100)).toBe(32);
    expect(percentileOf(s, 50)).toBeCloseTo(16, 0);
  });

  it('applies the header slope and intercept', () => {
    const s = intensityStats(volume(), 2, 10);
    // Background becomes 10 (not zero, so counted); 1..32 -> 12..74.
    expect(s.min).toBe(10);
    expect(s.max).toBe(74);
  });

  it('is all zeros for an empty volume', () => {
    const s = intensityStats(new Float32Array(8));
    expect(s.count).toBe(0);
    expect(s.quantiles.every((q) => q === 0)).toBe(true);
  });
});

describe('decodeVolume', () => {
  it('gunzips a .nii.gz and writes the default window into cal_min / cal_max', async () => {
    const bytes = gzipSync(encodeNifti([4, 4, 4], volume()));
    const out = await decodeVolume(toArrayBuffer(bytes), 'sub-01_T1w.nii.gz');
    expect(nifti.isCompressed(out.nii)).toBe(false);
    const header = nifti.readHeader(out.nii);
    expect(header.cal_min).toBeCloseTo(out.defaultWindow[0], 4);
    expect(header.cal_max).toBeCloseTo(out.defaultWindow[1], 4);
    expect(out.defaultWindow[0]).toBeGreaterThanOrEqual(1);
    expect(out.defaultWindow[1]).toBeLessThanOrEqual(32);
    // Signal (non-zero voxels) in the upper half: z 2..3.
    expect(out.dims).toEqual([4, 4, 4]);
    expect(out.signal).toEqual([0, 0, 2, 4, 4, 4]);
    // The voxels keep their values; integers stored as float32 arrive in the smallest exact type.
    expect(header.datatypeCode).toBe(2);
    expect(Array.from(new Uint8Array(nifti.readImage(header, out.nii)))).toEqual(Array.from(volume()));
  });

  it('names the file when the bytes are not NIfTI', async () => {
    await expect(decodeVolume(toArrayBuffer(gzipSync(Buffer.from('hello'))), 'notes.nii.gz')).rejects.toThrow(/^notes\.nii\.gz: not a NIfTI/);
    await expect(decodeVolume(toArrayBuffer(Buffer.from([0x1f, 0x8b, 1, 2, 3])), 'broken.nii.gz')).rejects.toThrow(/^broken\.nii\.gz: /);
  });
});

describe('window/level', () => {
  const stats = intensityStats(volume());
  const auto = presetWindow(stats, WINDOW_PRESETS[0]!);

  it('full range spans min..max; percentile presets stay inside it', () => {
    expect(presetWindow(stats, WINDOW_PRESETS.find((p) => p.id === 'full')!)).toEqual([0, 32]);
    for (const p of WINDOW_PRESETS) {
      const [lo, hi] = presetWindow(stats, p);
      expect(hi).toBeGreaterThan(lo);
      expect(lo).toBeGreaterThanOrEqual(0);
      expect(hi).toBeLessThanOrEqual(32);
    }
  });

  it('right-drag: horizontal scales the width, vertical moves the level by a share of the reference range', () => {
    const wider = dragWindow(auto, auto, 200, 0);
    expect(wider[1] - wider[0]).toBeCloseTo(2 * (auto[1] - auto[0]), 6);
    expect((wider[0] + wider[1]) / 2).toBeCloseTo((auto[0] + auto[1]) / 2, 6);
    const lower = dragWindow(auto, auto, 0, -400);
    expect((lower[0] + lower[1]) / 2).toBeCloseTo((auto[0] + auto[1]) / 2 - (auto[1] - auto[0]), 6);
    // The same drag on a volume with 10x the values moves its window by the same share.
    const big: [number, number] = [auto[0] * 10, auto[1] * 10];
    const moved = dragWindow(big, big, 100, 50);
    const small = dragWindow(auto, auto, 100, 50);
    expect(moved[0]).toBeCloseTo(small[0] * 10, 6);
    expect(moved[1]).toBeCloseTo(small[1] * 10, 6);
  });
});

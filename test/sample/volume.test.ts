import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readNifti, writeNifti } from '../../src/ml/data/nifti';
import type { SamplingPipeline } from '../../src/ml/pipeline';
import { downsampleBox, upsampleBilinear } from '../../src/ml/sample/resize';
import { gridSlicesToVolume, translateGridSlices, translateVolume } from '../../src/ml/sample/volume';
import { extractAxialSlice } from '../../src/ml/data/slices';
import { openTinyPipeline } from './fixtures';

describe('resize between the 160x224 grid and the model size', () => {
  it('keeps constants and linear ramps, and refuses non-whole factors', () => {
    const c = new Float32Array(2 * 8 * 12).fill(0.25);
    expect(Array.from(downsampleBox(c, 2, { height: 8, width: 12 }, { height: 4, width: 6 })).every((v) => v === 0.25)).toBe(true);
    expect(Array.from(upsampleBilinear(c, 2, { height: 8, width: 12 }, { height: 16, width: 24 })).every((v) => Math.abs(v - 0.25) < 1e-7)).toBe(true);
    // a ramp along columns: box-average then bilinear-upsample gives the ramp back away from the borders
    const ramp = new Float32Array(8 * 12).map((_, i) => (i % 12) / 12);
    const small = downsampleBox(ramp, 1, { height: 8, width: 12 }, { height: 4, width: 6 });
    const back = upsampleBilinear(small, 1, { height: 4, width: 6 }, { height: 8, width: 12 });
    for (let r = 0; r < 8; r++) for (let col = 1; col < 11; col++) expect(back[r * 12 + col]).toBeCloseTo(ramp[r * 12 + col]!, 5);
    expect(() => downsampleBox(c, 2, { height: 8, width: 12 }, { height: 3, width: 6 })).toThrow(/whole factors/);
  });
});

describe('whole-volume translation', () => {
  let dir: string;
  let pipeline: SamplingPipeline;
  const dims: [number, number, number] = [170, 200, 5];
  // A LAS affine on a 1 mm grid (x flipped), like the FSL MNI152 grid but smaller.
  const lasAffine = [
    [-1, 0, 0, 84],
    [0, 1, 0, -100],
    [0, 0, 1, -2],
    [0, 0, 0, 1],
  ];

  function phantomFlair(): Float32Array {
    const [nx, ny, nz] = dims;
    const data = new Float32Array(nx * ny * nz);
    for (const z of [1, 3]) {
      for (let y = 0; y < ny; y++)
        for (let x = 0; x < nx; x++) {
          const dx = (x - 85) / 60;
          const dy = (y - 100) / 80;
          if (dx * dx + dy * dy < 1) data[x + nx * (y + ny * z)] = 200 + 100 * Math.sin(x / 7) * Math.cos(y / 9) + z;
        }
    }
    data[0] = -30; // negative noise outside the brain is clipped to 0
    return data;
  }

  let closeTiny: (() => void) | undefined;
  beforeAll(async () => {
    ({ dir, pipeline, close: closeTiny } = await openTinyPipeline('bs-volume-'));
  });

  afterAll(() => closeTiny?.());

  it('writes a NIfTI on the input grid: same dims, affine and xform codes; zero outside the window and on empty slices', async () => {
    const flairPath = join(dir, 'sub-x_FLAIR.nii.gz');
    writeNifti(flairPath, { dims, data: phantomFlair() }, lasAffine, { qformCode: 1, sformCode: 4 });
    const outPath = join(dir, 'T1w_synth.nii.gz');
    const progress: number[] = [];
    const r = await translateVolume(pipeline, flairPath, outPath, {
      steps: 2,
      seed: 11,
      batch: 2,
      normalisation: { method: 'minmax', slices: 'brain-band' },
      onProgress: (p) => progress.push(p.done),
    });
    expect(r.sampledSlices).toBe(2);
    expect(r.skippedSlices).toBe(3);
    expect(progress.at(-1)).toBe(2);
    const input = await readNifti(flairPath);
    const out = await readNifti(outPath);
    expect(out.dims).toEqual(input.dims);
    expect(out.affine).toEqual(input.affine);
    expect(out.pixdim).toEqual(input.pixdim);
    expect([out.qformCode, out.sformCode]).toEqual([1, 4]);
    expect(out.orientation).toBe('LAS');
    const [nx, ny] = dims;
    const at = (x: number, y: number, z: number) => out.data[x + nx * (y + ny * z)]!;
    // the 160-row window reads x = 5..164 of 170
    let outside = 0;
    let inside = 0;
    for (let z = 0; z < 5; z++)
      for (let y = 0; y < ny; y++)
        for (let x = 0; x < nx; x++) {
          const v = at(x, y, z);
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1);
          if (x < 5 || x >= 165 || z === 0 || z === 2 || z === 4) outside = Math.max(outside, v);
          else if (v > 0) inside++;
        }
    expect(outside).toBe(0);
    expect(inside).toBeGreaterThan(1000);
    // undoing the mapping: the window of slice 1 read back from the output is what the sampler made
    const back = extractAxialSlice(out.data, dims, 1);
    expect(gridSlicesToVolume(back, dims, [1]).subarray(nx * ny, 2 * nx * ny)).toEqual(out.data.subarray(nx * ny, 2 * nx * ny));
  });

  it("zeroes the output outside the FLAIR's brain for a run that masks (the tiny desktop run), keeps the enclosed holes, and masks nothing when asked not to", async () => {
    // An ellipse of signal on the 160x224 grid with a zero 'ventricle' at its centre.
    const inEllipse = (r: number, c: number) => ((r - 80) / 60) ** 2 + ((c - 112) / 90) ** 2;
    const flair = new Float32Array(160 * 224);
    for (let r = 0; r < 160; r++) for (let c = 0; c < 224; c++) if (inEllipse(r, c) < 1 && inEllipse(r, c) > 0.05) flair[r * 224 + c] = 0.4 + 0.3 * Math.sin(c / 9);
    const masked = await translateGridSlices(pipeline, flair, { seeds: [5], steps: 2 });
    const raw = await translateGridSlices(pipeline, flair, { seeds: [5], steps: 2, brainMask: false });
    let outsideRaw = 0;
    for (let r = 0; r < 160; r++)
      for (let c = 0; c < 224; c++) {
        const i = r * 224 + c;
        if (inEllipse(r, c) < 1) expect(masked[i]).toBe(raw[i]);
        else {
          expect(masked[i]).toBe(0);
          outsideRaw = Math.max(outsideRaw, raw[i]!);
        }
      }
    expect(outsideRaw).toBeGreaterThan(0);
  });

  it('a FLAIR stored in another orientation gives the same voxels in its own order', async () => {
    const las = phantomFlair();
    const [nx, ny, nz] = dims;
    // The same image stored RAS: x flipped, affine adjusted so world coordinates are unchanged.
    const ras = new Float32Array(las.length);
    for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++) ras[nx - 1 - x + nx * (y + ny * z)] = las[x + nx * (y + ny * z)]!;
    const rasAffine = [
      [1, 0, 0, 84 - (nx - 1)],
      [0, 1, 0, -100],
      [0, 0, 1, -2],
      [0, 0, 0, 1],
    ];
    const lasPath = join(dir, 'las.nii');
    const rasPath = join(dir, 'ras.nii');
    writeNifti(lasPath, { dims, data: las }, lasAffine);
    writeNifti(rasPath, { dims, data: ras }, rasAffine);
    const opts = { steps: 2, seed: 5, batch: 2, normalisation: { method: 'percentile' as const, percentiles: [0.5, 99.5] as [number, number] } };
    await translateVolume(pipeline, lasPath, join(dir, 'las_out.nii'), opts);
    await translateVolume(pipeline, rasPath, join(dir, 'ras_out.nii'), opts);
    const a = await readNifti(join(dir, 'las_out.nii'));
    const b = await readNifti(join(dir, 'ras_out.nii'));
    expect(b.affine).toEqual((await readNifti(rasPath)).affine);
    let maxDiff = 0;
    for (let z = 0; z < nz; z++)
      for (let y = 0; y < ny; y++)
        for (let x = 0; x < nx; x++) maxDiff = Math.max(maxDiff, Math.abs(a.data[x + nx * (y + ny * z)]! - b.data[nx - 1 - x + nx * (y + ny * z)]!));
    expect(maxDiff).toBe(0);
  });

  it('names the file when the input is not a single 3-D volume', async () => {
    const p = join(dir, 'four-d.nii');
    writeNifti(p, { dims: [4, 4, 2, 2], data: new Float32Array(64) }, lasAffine);
    await expect(translateVolume(pipeline, p, join(dir, 'x.nii'), { steps: 1, normalisation: { method: 'minmax' } })).rejects.toThrow(/four-d\.nii: has 2 volumes/);
  });
});

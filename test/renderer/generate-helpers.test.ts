/** Pure parts of the Generate view and the evaluation tables: colour map, orientation, slice choice, table logic. */
import { describe, expect, it } from 'vitest';
import { buildLut, colorize, INFERNO_LUT, maxGrey } from '../../src/renderer/src/views/generate/colormap';
import { absDiffGrey, splitTiles, uprightPixels } from '../../src/renderer/src/views/generate/display-orientation';
import { bestIndex, compareTable, csvFileName, formatMeanStd, metricLabel, methodRows, sortMetricNames } from '../../src/renderer/src/views/generate/metric-tables';
import { runSamplingDefaults } from '../../src/renderer/src/views/generate/run-sampling-defaults';
import { defaultZ, sliceChoice } from '../../src/renderer/src/views/generate/slice-choice';
import type { DatasetDetail, DatasetSubject } from '../../src/shared/contract';

describe('colour map', () => {
  it('runs from the first to the last control point and is monotone in brightness', () => {
    const lut = buildLut();
    expect([...lut.slice(0, 3)]).toEqual([0, 0, 4]);
    expect([...lut.slice(255 * 3)]).toEqual([252, 255, 164]);
    const luma = (i: number) => 0.2126 * lut[i * 3]! + 0.7152 * lut[i * 3 + 1]! + 0.0722 * lut[i * 3 + 2]!;
    for (let i = 8; i < 256; i += 8) expect(luma(i)).toBeGreaterThanOrEqual(luma(i - 8) - 1e-9);
  });

  it('stretches grey levels [0, max] over the whole map and keeps alpha', () => {
    const rgba = new Uint8ClampedArray([0, 0, 0, 255, 10, 10, 10, 128, 20, 20, 20, 255]);
    expect(maxGrey(rgba)).toBe(20);
    colorize(rgba, 20);
    expect([...rgba.slice(0, 4)]).toEqual([0, 0, 4, 255]);
    expect([...rgba.slice(8, 12)]).toEqual([...INFERNO_LUT.slice(255 * 3), 255]);
    expect(rgba[7]).toBe(128);
    expect([...rgba.slice(4, 7)]).toEqual([...INFERNO_LUT.slice(128 * 3, 128 * 3 + 3)]);
  });
});

describe('upright display of 160x224 slices', () => {
  it('puts anterior (last column) at the top and the patient\'s left (last row, LAS x) on the left', () => {
    // stored: 2 rows (x) x 3 columns (y); value = 10 * x + y in the red channel
    const w = 3;
    const h = 2;
    const rgba = new Uint8ClampedArray(w * h * 4);
    for (let x = 0; x < h; x++) for (let y = 0; y < w; y++) rgba[(x * w + y) * 4] = 10 * x + y;
    const out = uprightPixels(rgba, w, h);
    expect([out.width, out.height]).toEqual([2, 3]);
    const red = (r: number, c: number) => out.data[(r * out.width + c) * 4];
    expect(red(0, 0)).toBe(12); // top-left: most anterior y, most left x
    expect(red(0, 1)).toBe(2);
    expect(red(2, 0)).toBe(10); // bottom-left: most posterior y
    expect(red(2, 1)).toBe(0);
  });
});

const affine = [
  [-1, 0, 0, 90],
  [0, 1, 0, -126],
  [0, 0, 1, -72],
  [0, 0, 0, 1],
];
function subject(label: string, preparedZs: number[] | null, withT1w = true): DatasetSubject {
  const vol = (id: number, modality: 'FLAIR' | 'T1w') => ({ id, modality, fileName: `${label}_${modality}.nii.gz`, dims: [182, 218, 182], pixdim: [1, 1, 1], affine, orientation: 'LAS', datatype: 'float32', checks: {} });
  return { id: 1, label, session: null, split: 'test', volumes: withT1w ? [vol(11, 'FLAIR'), vol(12, 'T1w')] : [vol(11, 'FLAIR')], preparedZs };
}
const dataset = { id: 3, name: 'open ms', synthetic: false, attribution: 'Lesjak et al. 2017' } as DatasetDetail;

describe('slice choice', () => {
  it('gives the LAS index, MNI z and prepared flag of a native axial index', () => {
    const c = sliceChoice(dataset, subject('patient19', [90, 91, 92]), 91)!;
    expect(c).toMatchObject({ datasetId: 3, subject: 'patient19', volumeId: 11, z: 91, lasZ: 91, mniZ: 19, inPrepared: true, hasT1w: true });
    expect(sliceChoice(dataset, subject('patient19', [90]), 500)!.z).toBe(181);
    expect(sliceChoice(dataset, subject('patient19', null, false), 10)).toMatchObject({ inPrepared: false, hasT1w: false });
  });

  it('starts on the middle prepared slice, else the middle of the volume', () => {
    expect(defaultZ(subject('a', [95, 90, 91, 92, 93]))).toBe(92);
    expect(defaultZ(subject('a', null))).toBe(91);
  });
});

const stats = (name: string, mean: number | null, std: number | null = 0.1) => ({ name, mean, std, min: mean, max: mean, n: 3, missing: 0 });
const evalA = {
  runId: 7,
  runName: 'eval A',
  modelRunId: 3,
  split: 'test',
  images: 3,
  model: [stats('mae', 0.05), stats('psnr', 24.5), stats('ms_ssim', 0.8), stats('psnr_lesion', 20)],
  baselines: { baseline_lut: [stats('psnr', 18), stats('mae', 0.1)], baseline_histmatch: [stats('psnr', 19), stats('mae', 0.09)] },
  secondsPerSlice: 1.2,
  steps: 20,
};
const evalB = { ...evalA, runId: 8, runName: 'eval B', model: [stats('psnr', 26), stats('mae', 0.06), stats('ms_ssim', null)] };

describe("a run's sampling defaults", () => {
  it('start from its sampling conditioning scale, else its training scale, else the reference values', () => {
    expect(runSamplingDefaults({ controlnet: { guidanceScale: 5, conditioningScale: 1, sampleConditioningScale: 1.5, sampleBrainMask: false, sampleSteps: 25 } })).toEqual({
      guidanceScale: 5,
      conditioningScale: 1.5,
      brainMask: false,
      steps: 25,
    });
    // a run recorded before the sampling scale existed
    expect(runSamplingDefaults({ controlnet: { guidanceScale: 7, conditioningScale: 0.8, sampleSteps: 5000 } })).toEqual({ guidanceScale: 7, conditioningScale: 0.8, brainMask: false, steps: 1000 });
    expect(runSamplingDefaults({ stage: 'controlnet' })).toEqual({ guidanceScale: 7, conditioningScale: 1, brainMask: false, steps: null });
  });

  it('mask to the brain as the run says; runs recorded before the setting do when they are desktop runs', () => {
    expect(runSamplingDefaults({ preset: 'reference', controlnet: { sampleBrainMask: true } }).brainMask).toBe(true);
    expect(runSamplingDefaults({ preset: 'desktop', controlnet: { sampleBrainMask: false } }).brainMask).toBe(false);
    expect(runSamplingDefaults({ preset: 'desktop', controlnet: { conditioningScale: 1 } }).brainMask).toBe(true);
    expect(runSamplingDefaults({ preset: 'reference', controlnet: { conditioningScale: 1 } }).brainMask).toBe(false);
  });
});

describe('evaluation tables', () => {
  it('orders PSNR, MAE, MS-SSIM first, lesion variants after, and labels them', () => {
    expect(sortMetricNames(['ms_ssim_nonlesion', 'psnr_lesion', 'mae', 'ms_ssim', 'psnr', 'fid'])).toEqual(['psnr', 'mae', 'ms_ssim', 'fid', 'psnr_lesion', 'ms_ssim_nonlesion']);
    expect(metricLabel('ms_ssim')).toBe('MS-SSIM');
    expect(metricLabel('psnr_nonlesion')).toBe('PSNR (outside lesion)');
    expect(formatMeanStd('psnr', { mean: 24.567, std: 1.234 })).toBe('24.57 ± 1.23');
    expect(formatMeanStd('mae', { mean: 0.0512345, std: 0.0061 })).toBe('0.0512 ± 0.0061');
    expect(formatMeanStd('mae', { mean: null, std: null })).toBe('—');
  });

  it('puts the model before its baselines and picks the best value by the metric\'s direction', () => {
    expect(methodRows(evalA).map((r) => r.method)).toEqual(['model', 'baseline_histmatch', 'baseline_lut']);
    expect(bestIndex('psnr', [18, 24.5, null, 19])).toBe(1);
    expect(bestIndex('mae', [0.1, 0.05, 0.09])).toBe(1);
    expect(bestIndex('mae', [null, Number.NaN])).toBeNull();
  });

  it('compares runs side by side with every metric any run has', () => {
    const all = compareTable([evalA, evalB]);
    expect(all.columns.map((c) => c.key)).toEqual(['7/model', '7/baseline_histmatch', '7/baseline_lut', '8/model', '8/baseline_histmatch', '8/baseline_lut']);
    const psnr = all.rows.find((r) => r.metric === 'psnr')!;
    expect(psnr.cells.map((c) => c?.mean ?? null)).toEqual([24.5, 19, 18, 26, 19, 18]);
    expect(psnr.best).toBe(3);
    expect(all.rows.map((r) => r.metric)).toEqual(['psnr', 'mae', 'ms_ssim', 'psnr_lesion']);
    const models = compareTable([evalA, evalB], 'model');
    expect(models.columns.map((c) => c.key)).toEqual(['7/model', '8/model']);
    expect(models.rows.find((r) => r.metric === 'ms_ssim')!.best).toBe(0);
    expect(csvFileName([7, 8], 'summary')).toBe('brainsynth-eval-7-8-summary.csv');
    expect(csvFileName([1, 2, 3, 4, 5, 6], 'per-image')).toBe('brainsynth-eval-1-2-3-and-3-more-per-image.csv');
  });
});

describe('evaluation image triples', () => {
  it('splits FLAIR | generated | real tiles written with 2-pixel gaps and recomputes |generated - real|', () => {
    // 3 tiles of 2x1 with gaps of 2: width 3*2 + 2*2 = 10
    const width = 10;
    const grey = [10, 11, 255, 255, 50, 60, 255, 255, 30, 80];
    const rgba = new Uint8ClampedArray(width * 4);
    grey.forEach((g, i) => rgba.set([g, g, g, 255], i * 4));
    const tiles = splitTiles(rgba, width, 1, 3, 2);
    expect(tiles.map((t) => [t.width, t.height, t.data[0], t.data[4]])).toEqual([
      [2, 1, 10, 11],
      [2, 1, 50, 60],
      [2, 1, 30, 80],
    ]);
    const diff = absDiffGrey(tiles[1]!, tiles[2]!);
    expect([...diff.data]).toEqual([20, 20, 20, 255, 20, 20, 20, 255]);
    expect(() => splitTiles(rgba, 11, 1, 3, 2)).toThrow(/not 3 tiles with 2-pixel gaps/);
  });
});

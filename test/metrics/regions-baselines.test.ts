import { describe, expect, it } from 'vitest';
import {
  applyIntensityLookupTable,
  BASELINE_NAMES,
  evaluatePairs,
  fitBaselines,
  predictBaseline,
  fitIntensityLookupTable,
  fitReferenceDistribution,
  formatSummary,
  histogramMatchedFlair,
  invertedHistogramMatchedFlair,
  lesionRegions,
  maskedRegression,
  maskedSsim,
  msSsim,
  msSsimDiversity,
  ssim,
  summarize,
  type ImageBatch,
} from '../../src/ml/metrics';
import { Rng } from '../../src/ml/util/rng';
import { GOLDEN_H, GOLDEN_W, goldenX, goldenX2, goldenY, goldenY2 } from './goldenImages';

describe('summary', () => {
  it('reports mean and POPULATION std (np.std, ddof 0)', () => {
    const s = summarize([1, 2, 3, 4]);
    expect(s.mean).toBe(2.5);
    expect(s.std).toBeCloseTo(Math.sqrt(1.25), 14); // the sample std would be 1.29
    expect(s.n).toBe(4);
    expect(formatSummary(s, 2)).toBe('2.50 ± 1.12');
  });
  it('leaves NaN out and counts it as missing', () => {
    const s = summarize([1, NaN, 3]);
    expect(s.mean).toBe(2);
    expect(s.std).toBe(1);
    expect(s.missing).toBe(1);
    expect(summarize([NaN]).n).toBe(0);
  });
});

describe('lesion-aware metrics', () => {
  const h = 20;
  const w = 20;
  const target = new Float32Array(h * w).fill(0.5);
  const pred = new Float32Array(h * w).fill(0.5);
  const lesion = new Float32Array(h * w);
  for (let r = 5; r < 10; r++) for (let c = 5; c < 10; c++) {
    lesion[r * w + c] = 1;
    pred[r * w + c] = 0.7; // error only inside the lesion
  }
  const P: ImageBatch = { data: pred, shape: [1, h, w] };
  const T: ImageBatch = { data: target, shape: [1, h, w] };
  const L: ImageBatch = { data: lesion, shape: [1, h, w] };

  it('separates the error inside and outside the lesion', () => {
    const { inside, outside } = lesionRegions(L);
    const inner = maskedRegression(P, T, inside);
    const outer = maskedRegression(P, T, outside);
    expect(inner.pixels[0]).toBe(25);
    expect(outer.pixels[0]).toBe(375);
    expect(inner.mae[0]).toBeCloseTo(0.2, 6);
    expect(inner.psnr[0]).toBeCloseTo(-10 * Math.log10(0.04), 4);
    expect(outer.mae[0]).toBe(0);
    expect(outer.psnr[0]).toBe(Infinity);
  });

  it('limits the outside region to the brain when a brain mask is given, and gives NaN for empty regions', () => {
    const brain = new Float32Array(h * w);
    for (let i = 0; i < 200; i++) brain[i] = 1;
    const { outside } = lesionRegions(L, { data: brain, shape: [1, h, w] });
    expect(outside.data.reduce((a, b) => a + b, 0)).toBe(200 - 25);
    const none = lesionRegions({ data: new Float32Array(h * w), shape: [1, h, w] });
    expect(Number.isNaN(maskedRegression(P, T, none.inside).mae[0])).toBe(true);
  });

  it('masked SSIM over the whole image equals SSIM', () => {
    const x: ImageBatch = { data: goldenX(), shape: [1, GOLDEN_H, GOLDEN_W] };
    const y: ImageBatch = { data: goldenY(), shape: [1, GOLDEN_H, GOLDEN_W] };
    const all = { data: new Uint8Array(GOLDEN_H * GOLDEN_W).fill(1), shape: [1, GOLDEN_H, GOLDEN_W] };
    expect(maskedSsim(x, y, all)[0]).toBeCloseTo(ssim(x, y)[0], 12);
  });
});

describe('metric table (evaluatePairs)', () => {
  it('gives per-image psnr/mae/ms_ssim, lesion columns and summaries', () => {
    const n = GOLDEN_H * GOLDEN_W;
    const pred = new Float32Array(2 * n);
    pred.set(goldenX());
    pred.set(goldenX2(), n);
    const target = new Float32Array(2 * n);
    target.set(goldenY());
    target.set(goldenY2(), n);
    const lesion = new Float32Array(2 * n);
    lesion.fill(1, 1000, 2000); // lesion only in image 0
    const shape = [2, GOLDEN_H, GOLDEN_W];
    const t = evaluatePairs({ data: pred, shape }, { data: target, shape }, { lesion: { data: lesion, shape } });
    expect(t.columns.slice(0, 3)).toEqual(['psnr', 'mae', 'ms_ssim']);
    expect(t.columns).toContain('psnr_lesion');
    expect(t.columns).toContain('ssim_nonlesion');
    expect(t.values.ms_ssim[1]).toBeCloseTo(0.9700693, 5);
    expect(t.summary.ms_ssim.mean).toBeCloseTo((0.9279621 + 0.9700693) / 2, 5);
    expect(t.summary.ms_ssim.std).toBeCloseTo(Math.abs(0.9279621 - 0.9700693) / 2, 5);
    expect(t.summary.mae_lesion.missing).toBe(1);
  });
  it('omits MS-SSIM with a note when the size is refused', () => {
    const img = { data: new Float32Array(80 * 112).fill(0.3), shape: [1, 80, 112] };
    const t = evaluatePairs(img, img);
    expect(t.columns).toEqual(['psnr', 'mae']);
    expect(t.notes[0]).toMatch(/ms_ssim omitted.*80x112/);
  });
});

describe('MS-SSIM diversity', () => {
  it('averages over ordered pairs (each unordered pair twice)', () => {
    const n = GOLDEN_H * GOLDEN_W;
    const imgs = [goldenX(), goldenY(), goldenX2()];
    const data = new Float32Array(3 * n);
    imgs.forEach((im, i) => data.set(im, i * n));
    const d = msSsimDiversity({ data, shape: [3, GOLDEN_H, GOLDEN_W] });
    expect(d.orderedPairs).toBe(6);
    const one = (a: Float32Array, b: Float32Array) => msSsim({ data: a, shape: [1, GOLDEN_H, GOLDEN_W] }, { data: b, shape: [1, GOLDEN_H, GOLDEN_W] })[0];
    const want = (one(imgs[0], imgs[1]) + one(imgs[0], imgs[2]) + one(imgs[1], imgs[2])) / 3;
    expect(d.mean).toBeCloseTo(want, 12);
    expect(() => msSsimDiversity({ data: goldenX(), shape: [1, GOLDEN_H, GOLDEN_W] })).toThrow(/at least 2/);
  });
});

describe('model-free baselines', () => {
  // A synthetic "anatomy": T1w is a decreasing function of FLAIR inside the foreground.
  const rng = Rng.fromSeed(12);
  const makePair = () => {
    const flair = new Float32Array(400);
    const t1w = new Float32Array(400);
    for (let i = 0; i < 400; i++) {
      if (i < 40) continue; // background
      flair[i] = 0.05 + 0.9 * rng.uniform();
      t1w[i] = 0.9 - 0.8 * flair[i] ** 2;
    }
    return { flair, t1w };
  };
  const train = [makePair(), makePair(), makePair()];
  const test = makePair();

  it('inverted + histogram-matched FLAIR follows the reference T1w distribution and keeps background 0', () => {
    const ref = fitReferenceDistribution(train.map((p) => p.t1w));
    const pred = invertedHistogramMatchedFlair(test.flair, ref);
    for (let i = 0; i < 40; i++) expect(pred[i]).toBe(0);
    // Monotone decreasing map of FLAIR: the ranks are inverted.
    const fg = Array.from({ length: 360 }, (_, k) => k + 40).sort((a, b) => test.flair[a] - test.flair[b]);
    for (let k = 1; k < fg.length; k++) expect(pred[fg[k]]).toBeLessThanOrEqual(pred[fg[k - 1]]);
    let err = 0;
    for (let i = 40; i < 400; i++) err += Math.abs(pred[i] - test.t1w[i]);
    expect(err / 360).toBeLessThan(0.03);
  });

  it('histogram matching without inversion preserves the FLAIR ordering', () => {
    const ref = fitReferenceDistribution(train.map((p) => p.t1w));
    const pred = histogramMatchedFlair(test.flair, ref, { invert: false });
    const fg = Array.from({ length: 360 }, (_, k) => k + 40).sort((a, b) => test.flair[a] - test.flair[b]);
    for (let k = 1; k < fg.length; k++) expect(pred[fg[k]]).toBeGreaterThanOrEqual(pred[fg[k - 1]]);
    expect(pred[fg[0]]).toBeCloseTo(ref.quantiles[0], 6);
    expect(pred[fg[fg.length - 1]]).toBeCloseTo(ref.quantiles[ref.quantiles.length - 1], 6);
  });

  it('the lookup table E[T1w | FLAIR bin] recovers a deterministic relation', () => {
    const table = fitIntensityLookupTable(train, { bins: 32 });
    const pred = applyIntensityLookupTable(test.flair, table);
    for (let i = 0; i < 40; i++) expect(pred[i]).toBe(0);
    let err = 0;
    for (let i = 40; i < 400; i++) err += Math.abs(pred[i] - test.t1w[i]);
    expect(err / 360).toBeLessThan(0.03);
    expect(table.values.every((v) => Number.isFinite(v))).toBe(true);
    expect(() => fitIntensityLookupTable([{ flair: new Float32Array(4), t1w: new Float32Array(4) }])).toThrow(/no foreground/);
  });

  it('the fitted suite predicts every named baseline, and the LUT beats raw FLAIR on this anatomy', () => {
    const fitted = fitBaselines(train);
    const err = (pred: Float32Array) => {
      let e = 0;
      for (let i = 40; i < 400; i++) e += Math.abs(pred[i] - test.t1w[i]);
      return e / 360;
    };
    const errors = Object.fromEntries(BASELINE_NAMES.map((n) => [n, err(predictBaseline(n, test.flair, fitted))]));
    expect(Object.keys(errors)).toEqual(['flair_raw', 'flair_inverted_histmatch', 'flair_histmatch', 'intensity_lut']);
    expect(errors.intensity_lut).toBeLessThan(errors.flair_raw);
    expect(() => fitBaselines([])).toThrow(/no training pairs/);
  });
});

import { describe, expect, it } from 'vitest';
import {
  MS_SSIM_WEIGHTS,
  mae,
  msSsim,
  msSsimSizeProblem,
  psnr,
  ssim,
  ssimKernelTaps,
  type ImageBatch,
} from '../../src/ml/metrics';
import { Rng } from '../../src/ml/util/rng';
import { GOLDEN_H, GOLDEN_W, goldenX, goldenX2, goldenY, goldenY2 } from './goldenImages';

const one = (data: Float32Array, h = GOLDEN_H, w = GOLDEN_W): ImageBatch => ({ data, shape: [1, h, w] });
const rel = (got: number, want: number) => Math.abs(got - want) / Math.abs(want);

/** Straightforward MONAI 0.2.2 MS-SSIM: full 2D kernel (outer product), float64, no shortcuts. */
function naiveMsSsim(x0: Float64Array, y0: Float64Array, h0: number, w0: number, k = 7): number {
  const g = ssimKernelTaps(k);
  const c1 = 0.01 ** 2;
  const c2 = 0.03 ** 2;
  let x = x0;
  let y = y0;
  let h = h0;
  let w = w0;
  const stats: number[] = [];
  let lastSsim = 0;
  for (let s = 0; s < 5; s++) {
    const oh = h - k + 1;
    const ow = w - k + 1;
    let csSum = 0;
    let ssimSum = 0;
    for (let r = 0; r < oh; r++) {
      for (let c = 0; c < ow; c++) {
        let mx = 0, my = 0, xx = 0, yy = 0, xy = 0;
        for (let i = 0; i < k; i++) {
          for (let j = 0; j < k; j++) {
            const wgt = g[i] * g[j];
            const a = x[(r + i) * w + c + j];
            const b = y[(r + i) * w + c + j];
            mx += wgt * a;
            my += wgt * b;
            xx += wgt * a * a;
            yy += wgt * b * b;
            xy += wgt * a * b;
          }
        }
        const cs = (2 * (xy - mx * my) + c2) / (xx - mx * mx + yy - my * my + c2);
        csSum += cs;
        ssimSum += ((2 * mx * my + c1) / (mx * mx + my * my + c1)) * cs;
      }
    }
    stats.push(Math.max(0, csSum / (oh * ow)));
    lastSsim = Math.max(0, ssimSum / (oh * ow));
    const ph = Math.floor(h / 2);
    const pw = Math.floor(w / 2);
    const px = new Float64Array(ph * pw);
    const py = new Float64Array(ph * pw);
    for (let r = 0; r < ph; r++) {
      for (let c = 0; c < pw; c++) {
        const at = (a: Float64Array) => (a[2 * r * w + 2 * c] + a[2 * r * w + 2 * c + 1] + a[(2 * r + 1) * w + 2 * c] + a[(2 * r + 1) * w + 2 * c + 1]) / 4;
        px[r * pw + c] = at(x);
        py[r * pw + c] = at(y);
      }
    }
    x = px;
    y = py;
    h = ph;
    w = pw;
  }
  stats[4] = lastSsim;
  return stats.reduce((p, v, i) => p * v ** MS_SSIM_WEIGHTS[i], 1);
}

describe('metric goldens computed with MONAI 0.2.2 / MONAI 1.2.0 on the golden images, 1e-5 relative', () => {
  it('(x, y): MS-SSIM 0.9279621, PSNR 23.272074 dB, MAE 0.0610496', () => {
    const x = one(goldenX());
    const y = one(goldenY());
    expect(rel(msSsim(x, y)[0], 0.9279621)).toBeLessThan(1e-5);
    expect(rel(psnr(x, y)[0], 23.272074)).toBeLessThan(1e-5);
    expect(rel(mae(x, y)[0], 0.0610496)).toBeLessThan(1e-5);
  });
  it('(x2, y2): MS-SSIM 0.9700693, PSNR 25.377188 dB, MAE 0.0438387', () => {
    const x = one(goldenX2());
    const y = one(goldenY2());
    expect(rel(msSsim(x, y)[0], 0.9700693)).toBeLessThan(1e-5);
    expect(rel(psnr(x, y)[0], 25.377188)).toBeLessThan(1e-5);
    expect(rel(mae(x, y)[0], 0.0438387)).toBeLessThan(1e-5);
  });
  it('a batch gives one value per image, in order', () => {
    const data = new Float32Array(2 * GOLDEN_H * GOLDEN_W);
    data.set(goldenX(), 0);
    data.set(goldenX2(), GOLDEN_H * GOLDEN_W);
    const target = new Float32Array(data.length);
    target.set(goldenY(), 0);
    target.set(goldenY2(), GOLDEN_H * GOLDEN_W);
    const v = msSsim({ data, shape: [2, GOLDEN_H, GOLDEN_W] }, { data: target, shape: [2, 1, GOLDEN_H, GOLDEN_W] });
    expect(v.length).toBe(2);
    expect(rel(v[0], 0.9279621)).toBeLessThan(1e-5);
    expect(rel(v[1], 0.9700693)).toBeLessThan(1e-5);
  });
});

describe('MS-SSIM definition', () => {
  it('uses the published Gaussian taps (kernel 7, sigma 1.5)', () => {
    const taps = ssimKernelTaps(7, 1.5);
    const want = [0.0366329, 0.1112808, 0.2167453, 0.2706822, 0.2167453, 0.1112808, 0.0366329];
    // Published to 7 digits from torch's float32 computation.
    taps.forEach((t, i) => expect(Math.abs(t - want[i])).toBeLessThan(1e-7));
    expect(taps.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(() => ssimKernelTaps(6)).toThrow(/odd/);
  });

  it('refuses the sizes MONAI refuses (each side // 16 must exceed kernel - 1)', () => {
    expect(msSsimSizeProblem(160, 224, 7)).toBeNull();
    expect(msSsimSizeProblem(112, 112, 7)).toBeNull();
    expect(msSsimSizeProblem(111, 224, 7)).toMatch(/111x224/);
    // Kernel 11 fails at 160 (160 // 16 = 10), which is why the reference uses 7.
    expect(msSsimSizeProblem(160, 224, 11)).toMatch(/kernel 11/);
    const small = { data: new Float32Array(80 * 112), shape: [1, 80, 112] };
    expect(() => msSsim(small, small)).toThrow(/at least 112 pixels; got 80x112/);
    expect(msSsimSizeProblem(50, 50, 7, 2)).toBeNull(); // 2 scales: divisor 1
  });

  it('matches a direct 2D-convolution implementation on arbitrary accepted sizes', () => {
    const rng = Rng.fromSeed(5);
    for (const [h, w] of [[112, 112], [113, 131], [127, 160]]) {
      const x = new Float64Array(h * w);
      const y = new Float64Array(h * w);
      for (let i = 0; i < h * w; i++) {
        const r = Math.floor(i / w);
        const c = i % w;
        x[i] = 0.5 + 0.4 * Math.sin(r / 7) * Math.cos(c / 9) + 0.05 * rng.normal();
        y[i] = Math.min(1, Math.max(0, x[i] + 0.1 * rng.normal()));
      }
      const got = msSsim({ data: x, shape: [1, h, w] }, { data: y, shape: [1, h, w] })[0];
      expect(rel(got, naiveMsSsim(x, y, h, w))).toBeLessThan(1e-10);
    }
  });

  it('is 1 for identical images and symmetric', () => {
    const x = one(goldenX());
    const y = one(goldenY());
    expect(msSsim(x, x)[0]).toBeCloseTo(1, 12);
    expect(msSsim(x, y)[0]).toBeCloseTo(msSsim(y, x)[0], 12);
  });

  it('averages channels like MONAI (mean over C, H, W)', () => {
    const data = new Float32Array(2 * GOLDEN_H * GOLDEN_W);
    data.set(goldenX());
    data.set(goldenX2(), GOLDEN_H * GOLDEN_W);
    const target = new Float32Array(data.length);
    target.set(goldenY());
    target.set(goldenY2(), GOLDEN_H * GOLDEN_W);
    const two = ssim({ data, shape: [1, 2, GOLDEN_H, GOLDEN_W] }, { data: target, shape: [1, 2, GOLDEN_H, GOLDEN_W] })[0];
    const a = ssim(one(goldenX()), one(goldenY()))[0];
    const b = ssim(one(goldenX2()), one(goldenY2()))[0];
    expect(two).toBeCloseTo((a + b) / 2, 12);
  });

  it('rejects mismatched shapes with a clear message', () => {
    expect(() => msSsim(one(goldenX()), { data: new Float32Array(10), shape: [1, 2, 5] })).toThrow(/differ in shape/);
    expect(() => psnr({ data: new Float32Array(3), shape: [1, 2, 2] }, { data: new Float32Array(3), shape: [1, 2, 2] })).toThrow(/needs 4 values/);
  });
});

describe('PSNR and MAE', () => {
  it('follow the MONAI formulas per image', () => {
    const pred = { data: Float64Array.from([0, 0, 0, 0, 1, 1, 1, 1]), shape: [2, 2, 2] };
    const target = { data: Float64Array.from([0.1, 0.1, 0.1, 0.1, 1, 1, 1, 0.5]), shape: [2, 2, 2] };
    const p = psnr(pred, target);
    expect(p[0]).toBeCloseTo(20, 10); // MSE 0.01
    expect(p[1]).toBeCloseTo(-10 * Math.log10(0.0625), 10);
    expect(Array.from(mae(pred, target))).toEqual([expect.closeTo(0.1, 7), 0.125]);
    expect(psnr(pred, pred)[0]).toBe(Infinity);
    expect(psnr(pred, target, { maxVal: 255 })[0]).toBeCloseTo(20 + 20 * Math.log10(255), 10);
  });
});

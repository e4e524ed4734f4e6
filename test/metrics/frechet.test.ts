import { describe, expect, it } from 'vitest';
import {
  computeFrechetDistance,
  featureStatistics,
  frechetDistance,
  frechetDistanceFromStatistics,
  matmul,
  symmetricEigen,
  traceSqrtProduct,
  transpose,
  type FeatureExtractor,
  type ImageBatch,
} from '../../src/ml/metrics';
import { Rng } from '../../src/ml/util/rng';

function randomSymmetric(rng: Rng, n: number): Float64Array {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const v = rng.normal();
      a[i * n + j] = v;
      a[j * n + i] = v;
    }
  }
  return a;
}

function features(rng: Rng, count: number, dim: number, shift: number, scale: number): Float64Array[] {
  return Array.from({ length: count }, () => Float64Array.from({ length: dim }, (_, k) => shift + scale * (1 + (k % 3)) * rng.normal()));
}

describe('symmetric eigendecomposition', () => {
  it('reconstructs the matrix and agrees with the values-only path', () => {
    const rng = Rng.fromSeed(2);
    for (const n of [1, 2, 3, 17, 60]) {
      const a = randomSymmetric(rng, n);
      const { values, vectors } = symmetricEigen(a, n);
      const d = new Float64Array(n * n);
      values.forEach((v, i) => (d[i * n + i] = v));
      const back = matmul(matmul(vectors!, d, n, n, n), transpose(vectors!, n, n), n, n, n);
      back.forEach((v, i) => expect(Math.abs(v - a[i])).toBeLessThan(1e-12 * n));
      const only = symmetricEigen(a, n, { vectors: false }).values;
      only.forEach((v, i) => expect(Math.abs(v - values[i])).toBeLessThan(1e-12 * n));
      for (let i = 1; i < n; i++) expect(values[i]).toBeGreaterThanOrEqual(values[i - 1]);
    }
  });
  it('handles repeated eigenvalues and a zero matrix', () => {
    const eye = new Float64Array([2, 0, 0, 0, 2, 0, 0, 0, 2]);
    expect(Array.from(symmetricEigen(eye, 3).values)).toEqual([2, 2, 2]);
    expect(Array.from(symmetricEigen(new Float64Array(4), 2).values)).toEqual([0, 0]);
  });
});

describe('Frechet distance (float64, unbiased covariance)', () => {
  it('tr sqrtm(S1 S2) matches the closed form for 2x2 matrices', () => {
    // For 2x2 M with positive eigenvalues, tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)).
    const s1 = new Float64Array([2, 0.5, 0.5, 1]);
    const s2 = new Float64Array([1.5, -0.3, -0.3, 0.7]);
    const m = matmul(s1, s2, 2, 2, 2);
    const det = m[0] * m[3] - m[1] * m[2];
    expect(traceSqrtProduct(s1, s2, 2)).toBeCloseTo(Math.sqrt(m[0] + m[3] + 2 * Math.sqrt(det)), 12);
  });

  it('is |mu1 - mu2|^2 for identical covariances, and ~0 for identical sets', () => {
    const rng = Rng.fromSeed(3);
    const a = features(rng, 40, 8, 0, 1);
    const shifted = a.map((f) => f.map((v) => v + 0.5));
    expect(frechetDistance(a, shifted)).toBeCloseTo(8 * 0.25, 8);
    expect(Math.abs(frechetDistance(a, a))).toBeLessThan(1e-9);
  });

  it('the sample-space route (N < dim) equals the covariance route', () => {
    const rng = Rng.fromSeed(4);
    for (const [na, nb, dim] of [[8, 12, 20], [12, 8, 20], [30, 40, 10]]) {
      const a = features(rng, na, dim, 0, 1);
      const b = features(rng, nb, dim, 0.3, 1.4);
      const viaStats = frechetDistanceFromStatistics(featureStatistics(a), featureStatistics(b));
      expect(Math.abs(frechetDistance(a, b) - viaStats) / viaStats).toBeLessThan(1e-7);
    }
  });

  it('uses the unbiased (N-1) covariance', () => {
    const s = featureStatistics([Float64Array.from([0]), Float64Array.from([2])]);
    expect(s.covariance[0]).toBe(2);
    expect(s.mean[0]).toBe(1);
  });

  it('refuses too few or inconsistent features', () => {
    expect(() => frechetDistance([new Float64Array(3)], [new Float64Array(3), new Float64Array(3)])).toThrow(/at least 2/);
    expect(() => frechetDistance([new Float64Array(3), new Float64Array(2)], [new Float64Array(3), new Float64Array(3)])).toThrow(/length 2, expected 3/);
    expect(() => frechetDistance([new Float64Array(3), new Float64Array(3)], [new Float64Array(2), new Float64Array(2)])).toThrow(/differ/);
  });

  it('names the metric after the feature network', async () => {
    // A toy extractor: per-image intensity histogram (a stand-in network for the interface).
    const histogram: FeatureExtractor = {
      name: 'intensity-histogram-8',
      extract(images: ImageBatch) {
        const [b, h, w] = images.shape;
        return Array.from({ length: b }, (_, i) => {
          const f = new Float64Array(8);
          for (let p = 0; p < h * w; p++) f[Math.min(7, Math.floor(images.data[i * h * w + p] * 8))] += 1 / (h * w);
          return f;
        });
      },
    };
    const rng = Rng.fromSeed(9);
    const make = (n: number, bright: number): ImageBatch => ({
      data: Float32Array.from({ length: n * 64 }, () => Math.min(0.999, Math.max(0, bright + 0.2 * rng.normal()))),
      shape: [n, 8, 8],
    });
    const r = await computeFrechetDistance(histogram, make(10, 0.3), make(12, 0.6));
    expect(r.name).toBe('frechet_distance[intensity-histogram-8]');
    expect(r.countA).toBe(10);
    expect(r.countB).toBe(12);
    expect(r.featureDim).toBe(8);
    expect(r.value).toBeGreaterThan(0);
    const same = await computeFrechetDistance(histogram, make(10, 0.3), make(12, 0.3));
    expect(same.value).toBeLessThan(r.value);
  });
});

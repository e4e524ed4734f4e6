import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine, readFloat32 } from '../../src/ml/engine';
import { testBackends } from './backends';
import { erf64, randomValues, ravel, relL2, selectionReference, stridesOf } from './reference';

/**
 * Every op the networks, losses and metrics use, forward and gradient, against float64 references
 * on each available backend (the issue's probe list). A failure here names the op and backend that
 * the engine must fix or that network code must avoid.
 */

const TOL = 2e-5;
const backends = await testBackends();
const SHAPE = [2, 3, 4, 5];
const N = SHAPE.reduce((p, d) => p * d, 1);

interface Unary {
  name: string;
  fn: (x: tf.Tensor) => tf.Tensor;
  f: (x: number) => number;
  df: (x: number) => number;
  lo?: number;
  hi?: number;
}

const sig = (x: number) => 1 / (1 + Math.exp(-x));
const UNARY: Unary[] = [
  { name: 'sigmoid', fn: tf.sigmoid, f: sig, df: (x) => sig(x) * (1 - sig(x)) },
  { name: 'exp', fn: tf.exp, f: Math.exp, df: Math.exp },
  { name: 'log', fn: tf.log, f: Math.log, df: (x) => 1 / x, lo: 0.2, hi: 2 },
  { name: 'sqrt', fn: tf.sqrt, f: Math.sqrt, df: (x) => 0.5 / Math.sqrt(x), lo: 0.2, hi: 2 },
  { name: 'rsqrt', fn: tf.rsqrt, f: (x) => 1 / Math.sqrt(x), df: (x) => -0.5 * x ** -1.5, lo: 0.2, hi: 2 },
  { name: 'square', fn: tf.square, f: (x) => x * x, df: (x) => 2 * x },
  { name: 'abs', fn: tf.abs, f: Math.abs, df: Math.sign },
  { name: 'erf', fn: tf.erf, f: erf64, df: (x) => (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x), lo: -2.5, hi: 2.5 },
  { name: 'cos', fn: tf.cos, f: Math.cos, df: (x) => -Math.sin(x), lo: -3, hi: 3 },
  { name: 'sin', fn: tf.sin, f: Math.sin, df: Math.cos, lo: -3, hi: 3 },
  { name: 'relu', fn: tf.relu, f: (x) => Math.max(0, x), df: (x) => (x > 0 ? 1 : 0) },
  { name: 'leakyRelu(0.2)', fn: (x) => tf.leakyRelu(x, 0.2), f: (x) => (x > 0 ? x : 0.2 * x), df: (x) => (x > 0 ? 1 : 0.2) },
  { name: 'SiLU x·sigmoid(x)', fn: (x) => tf.mul(x, tf.sigmoid(x)), f: (x) => x * sig(x), df: (x) => sig(x) * (1 + x * (1 - sig(x))) },
  {
    name: 'GELU exact 0.5x(1+erf(x/√2))',
    fn: (x) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.div(x, Math.SQRT2)))),
    f: (x) => 0.5 * x * (1 + erf64(x / Math.SQRT2)),
    df: (x) => 0.5 * (1 + erf64(x / Math.SQRT2)) + (x * Math.exp(-x * x / 2)) / Math.sqrt(2 * Math.PI),
    lo: -2.5,
    hi: 2.5,
  },
  { name: 'clipByValue(-0.5, 0.5)', fn: (x) => tf.clipByValue(x, -0.5, 0.5), f: (x) => Math.min(0.5, Math.max(-0.5, x)), df: (x) => (x > -0.5 && x < 0.5 ? 1 : 0) },
];

function values(seed: number, lo = -1, hi = 1): Float32Array {
  // Keep away from kinks (0, ±0.5) so piecewise derivatives are unambiguous.
  return randomValues(N, seed).map((v) => {
    let x = lo + ((v + 1) / 2) * (hi - lo);
    for (const kink of [0, 0.5, -0.5]) if (Math.abs(x - kink) < 1e-3) x += 3e-3;
    return x;
  });
}

/** y and dL/dx for L = Σ g·op(x) on the active backend. */
async function forwardAndGrad(op: (x: tf.Tensor) => tf.Tensor, x: Float32Array, shape: number[], g: ArrayLike<number>, gShape: number[]) {
  const xt = tf.tensor(x, shape);
  const gt = tf.tensor(Float32Array.from(g), gShape);
  const y = op(xt);
  const dx = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(op(a), gt)))(xt);
  const out = { y: await readFloat32(y), dx: await readFloat32(dx), yShape: y.shape };
  tf.dispose([xt, gt, y, dx]);
  return out;
}

interface Selection {
  name: string;
  op: (x: tf.Tensor) => tf.Tensor;
  outShape: number[];
  source: (idx: number[]) => number;
}

const inRange = (idx: number[], shape: number[]) => idx.every((v, i) => v >= 0 && v < shape[i]);
const SELECTIONS: Selection[] = [
  { name: 'pad', op: (x) => tf.pad(x, [[0, 0], [1, 2], [0, 1], [0, 0]]), outShape: [2, 6, 5, 5], source: (i) => { const s = [i[0], i[1] - 1, i[2], i[3]]; return inRange(s, SHAPE) ? ravel(s, SHAPE) : -1; } },
  { name: 'slice', op: (x) => tf.slice(x, [0, 1, 1, 1], [2, 2, 2, 3]), outShape: [2, 2, 2, 3], source: (i) => ravel([i[0], i[1] + 1, i[2] + 1, i[3] + 1], SHAPE) },
  { name: 'stridedSlice stride 2', op: (x) => tf.stridedSlice(x, [0, 0, 1, 0], [2, 3, 4, 5], [1, 2, 2, 1]), outShape: [2, 2, 2, 5], source: (i) => ravel([i[0], 2 * i[1], 1 + 2 * i[2], i[3]], SHAPE) },
  { name: 'transpose [0,3,1,2]', op: (x) => tf.transpose(x, [0, 3, 1, 2]), outShape: [2, 5, 3, 4], source: (i) => ravel([i[0], i[2], i[3], i[1]], SHAPE) },
  { name: 'reshape', op: (x) => tf.reshape(x, [6, 20]), outShape: [6, 20], source: (i) => i[0] * 20 + i[1] },
  { name: 'gather axis 1 (repeats)', op: (x) => tf.gather(x, tf.tensor1d([2, 0, 2], 'int32'), 1), outShape: [2, 3, 4, 5], source: (i) => ravel([i[0], [2, 0, 2][i[1]], i[2], i[3]], SHAPE) },
  { name: 'tile rank 4', op: (x) => tf.tile(x, [1, 2, 1, 2]), outShape: [2, 6, 4, 10], source: (i) => ravel([i[0], i[1] % 3, i[2], i[3] % 5], SHAPE) },
  { name: 'broadcastTo', op: (x) => tf.broadcastTo(tf.slice(x, [0, 0, 0, 0], [1, 3, 1, 5]), [2, 3, 4, 5]), outShape: [2, 3, 4, 5], source: (i) => ravel([0, i[1], 0, i[3]], SHAPE) },
  { name: 'reverse axes 1,2', op: (x) => tf.reverse(x, [1, 2]), outShape: SHAPE, source: (i) => ravel([i[0], 2 - i[1], 3 - i[2], i[3]], SHAPE) },
  { name: 'expandDims + squeeze', op: (x) => tf.squeeze(tf.expandDims(x, 2), [2]), outShape: SHAPE, source: (i) => ravel(i, SHAPE) },
  { name: 'concat with itself (axis 3)', op: (x) => tf.concat([x, tf.slice(x, [0, 0, 0, 0], [2, 3, 4, 2])], 3), outShape: [2, 3, 4, 7], source: (i) => ravel([i[0], i[1], i[2], i[3] < 5 ? i[3] : i[3] - 5], SHAPE) },
  { name: 'split (GEGLU halves) re-stacked', op: (x) => { const [a, b] = tf.split(x, [2, 3], 3); return tf.stack([tf.slice(b, [0, 0, 0, 0], [2, 3, 4, 2]), a], 1); }, outShape: [2, 2, 3, 4, 2], source: (i) => ravel([i[0], i[2], i[3], i[1] === 0 ? 2 + i[4] : i[4]], SHAPE) },
  { name: 'nearest resize x2', op: (x) => tf.image.resizeNearestNeighbor(x as tf.Tensor4D, [6, 8]), outShape: [2, 6, 8, 5], source: (i) => ravel([i[0], i[1] >> 1, i[2] >> 1, i[3]], SHAPE) },
];

for (const be of backends) {
  describe.skipIf(!be.available)(`op probe list on ${be.name}${be.available ? '' : ` — skipped: ${be.reason}`}`, () => {
    beforeAll(async () => {
      await initEngine({ backend: be.name, forceWebgpu: true });
    });

    it('unary ops: forward and derivative', async () => {
      const g = randomValues(N, 99);
      for (const u of UNARY) {
        const x = values(7, u.lo ?? -1.5, u.hi ?? 1.5);
        const got = await forwardAndGrad(u.fn, x, SHAPE, g, SHAPE);
        expect(relL2(got.y, Array.from(x, u.f)), `${u.name} forward`).toBeLessThan(TOL);
        expect(relL2(got.dx, Array.from(x, (v, i) => g[i] * u.df(v))), `${u.name} gradient`).toBeLessThan(TOL);
      }
    });

    it('selection ops (pad, slice, stridedSlice, transpose, reshape, gather, tile, broadcastTo, reverse, concat, split, stack, resize)', async () => {
      const x = values(8);
      for (const s of SELECTIONS) {
        const size = s.outShape.reduce((p, d) => p * d, 1);
        const g = randomValues(size, 98);
        const ref = selectionReference(x, s.outShape, g, s.source);
        const got = await forwardAndGrad(s.op, x, SHAPE, g, s.outShape);
        expect(got.yShape, s.name).toEqual(s.outShape);
        expect(relL2(got.y, ref.y), `${s.name} forward`).toBeLessThan(1e-7);
        expect(relL2(got.dx, ref.dx), `${s.name} gradient`).toBeLessThan(TOL);
      }
    });

    it('binary ops with broadcasting: maximum, minimum, where, squaredDifference, div, add/mul broadcast', async () => {
      const a = values(10);
      const bSmall = values(11).subarray(0, 15); // [1,3,1,5]
      const g = randomValues(N, 97);
      const bAt = (i: number) => { const [, c, , d] = [0, 1, 2, 3].map((k) => Math.floor(i / stridesOf(SHAPE)[k]) % SHAPE[k]); return bSmall[c * 5 + d]; };
      const cases: Array<{ name: string; op: (x: tf.Tensor, y: tf.Tensor) => tf.Tensor; f: (x: number, y: number) => number; dfa: (x: number, y: number) => number; dfb: (x: number, y: number) => number }> = [
        { name: 'maximum', op: tf.maximum, f: Math.max, dfa: (x, y) => (x > y ? 1 : 0), dfb: (x, y) => (x > y ? 0 : 1) },
        { name: 'minimum', op: tf.minimum, f: Math.min, dfa: (x, y) => (x < y ? 1 : 0), dfb: (x, y) => (x < y ? 0 : 1) },
        { name: 'where(x>y)', op: (x, y) => tf.where(tf.greater(x, y), x, tf.broadcastTo(y, SHAPE)), f: (x, y) => (x > y ? x : y), dfa: (x, y) => (x > y ? 1 : 0), dfb: (x, y) => (x > y ? 0 : 1) },
        { name: 'squaredDifference', op: tf.squaredDifference, f: (x, y) => (x - y) ** 2, dfa: (x, y) => 2 * (x - y), dfb: (x, y) => -2 * (x - y) },
        { name: 'div', op: (x, y) => tf.div(x, tf.add(tf.abs(y), 0.5)), f: (x, y) => x / (Math.abs(y) + 0.5), dfa: (_x, y) => 1 / (Math.abs(y) + 0.5), dfb: (x, y) => (-x * Math.sign(y)) / (Math.abs(y) + 0.5) ** 2 },
        { name: 'add', op: tf.add, f: (x, y) => x + y, dfa: () => 1, dfb: () => 1 },
        { name: 'mul', op: tf.mul, f: (x, y) => x * y, dfa: (_x, y) => y, dfb: (x) => x },
      ];
      for (const c of cases) {
        const at = tf.tensor(a, SHAPE);
        const bt = tf.tensor(bSmall, [1, 3, 1, 5]);
        const gt = tf.tensor(g, SHAPE);
        const y = await readFloat32(c.op(at, bt));
        const [da, db] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(c.op(p, q), gt)))([at, bt]);
        const wantY = Array.from(a, (v, i) => c.f(v, bAt(i)));
        const wantDa = Array.from(a, (v, i) => g[i] * c.dfa(v, bAt(i)));
        const wantDb = new Float64Array(15);
        a.forEach((v, i) => {
          const [, ch, , d] = [0, 1, 2, 3].map((k) => Math.floor(i / stridesOf(SHAPE)[k]) % SHAPE[k]);
          wantDb[ch * 5 + d] += g[i] * c.dfb(v, bAt(i));
        });
        expect(relL2(y, wantY), `${c.name} forward`).toBeLessThan(TOL);
        expect(relL2(await readFloat32(da), wantDa), `${c.name} grad a`).toBeLessThan(TOL);
        expect(db.shape, `${c.name} grad b shape`).toEqual([1, 3, 1, 5]);
        expect(relL2(await readFloat32(db), wantDb), `${c.name} grad b`).toBeLessThan(TOL);
        tf.dispose([at, bt, gt, da, db]);
      }
    });

    it('reductions: sum, mean, moments (GroupNorm statistics), softmax', async () => {
      const x = values(12);
      const g6 = randomValues(6, 96);
      // per (batch, channel) over axes 2,3 — as GroupNorm reshaped to [B, G, -1]
      const groups = 6;
      const per = N / groups;
      const xs = (k: number) => x.subarray(k * per, (k + 1) * per);
      const mean = Array.from({ length: groups }, (_, k) => xs(k).reduce((s, v) => s + v, 0) / per);
      const variance = Array.from({ length: groups }, (_, k) => xs(k).reduce((s, v) => s + (v - mean[k]) ** 2, 0) / per);
      const sum = await forwardAndGrad((t) => tf.sum(t, [2, 3]), x, SHAPE, g6, [2, 3]);
      expect(relL2(sum.y, mean.map((m) => m * per))).toBeLessThan(TOL);
      expect(relL2(sum.dx, Array.from(x, (_, i) => g6[Math.floor(i / per)]))).toBeLessThan(TOL);
      const mn = await forwardAndGrad((t) => tf.mean(t, [2, 3]), x, SHAPE, g6, [2, 3]);
      expect(relL2(mn.y, mean)).toBeLessThan(TOL);
      expect(relL2(mn.dx, Array.from(x, (_, i) => g6[Math.floor(i / per)] / per))).toBeLessThan(TOL);
      const mv = await forwardAndGrad((t) => tf.moments(t, [2, 3]).variance, x, SHAPE, g6, [2, 3]);
      expect(relL2(mv.y, variance)).toBeLessThan(TOL);
      expect(relL2(mv.dx, Array.from(x, (v, i) => { const k = Math.floor(i / per); return (g6[k] * 2 * (v - mean[k])) / per; }))).toBeLessThan(TOL);
      // softmax over the last axis
      const gS = randomValues(N, 95);
      const sm = await forwardAndGrad((t) => tf.softmax(t), x, SHAPE, gS, SHAPE);
      const wantY = new Float64Array(N);
      const wantDx = new Float64Array(N);
      for (let r = 0; r < N / 5; r++) {
        const row = Array.from(x.subarray(r * 5, r * 5 + 5));
        const mx = Math.max(...row);
        const e = row.map((v) => Math.exp(v - mx));
        const z = e.reduce((s, v) => s + v, 0);
        const y = e.map((v) => v / z);
        const gy = y.reduce((s, v, j) => s + v * gS[r * 5 + j], 0);
        y.forEach((v, j) => {
          wantY[r * 5 + j] = v;
          wantDx[r * 5 + j] = v * (gS[r * 5 + j] - gy);
        });
      }
      expect(relL2(sm.y, wantY)).toBeLessThan(TOL);
      expect(relL2(sm.dx, wantDx)).toBeLessThan(TOL);
    });

    it('avgPool 2x2 and depthwiseConv2d (metrics, forward), cast', async () => {
      const x = values(13);
      const g = randomValues(2 * 1 * 2 * 5, 94);
      const avg = await forwardAndGrad((t) => tf.avgPool(t as tf.Tensor4D, 2, 2, 'valid'), x, SHAPE, g, [2, 1, 2, 5]);
      const wantY = new Float64Array(20);
      const wantDx = new Float64Array(N);
      for (let b = 0; b < 2; b++) for (let q = 0; q < 2; q++) for (let c = 0; c < 5; c++) {
        const o = (b * 2 + q) * 5 + c;
        for (const [r, s] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
          const i = ravel([b, r, 2 * q + s, c], SHAPE);
          wantY[o] += x[i] / 4;
          wantDx[i] += g[o] / 4;
        }
      }
      expect(relL2(avg.y, wantY)).toBeLessThan(TOL);
      expect(relL2(avg.dx, wantDx)).toBeLessThan(TOL);
      // depthwise 3x3 'valid' with a per-channel Gaussian-like window (SSIM's filter form)
      const img = randomValues(2 * 6 * 7 * 2, 14);
      const w = randomValues(9 * 2, 15);
      const out = await readFloat32(tf.depthwiseConv2d(tf.tensor4d(img, [2, 6, 7, 2]), tf.tensor4d(w, [3, 3, 2, 1]), 1, 'valid'));
      const want = new Float64Array(2 * 4 * 5 * 2);
      for (let b = 0; b < 2; b++) for (let y = 0; y < 4; y++) for (let xx = 0; xx < 5; xx++) for (let c = 0; c < 2; c++) {
        let s = 0;
        for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) s += img[((b * 6 + y + i) * 7 + xx + j) * 2 + c] * w[(i * 3 + j) * 2 + c];
        want[((b * 4 + y) * 5 + xx) * 2 + c] = s;
      }
      expect(relL2(out, want)).toBeLessThan(TOL);
      const ints = tf.tensor1d([3, -2, 7], 'int32');
      expect(Array.from(await readFloat32(tf.cast(ints, 'float32')))).toEqual([3, -2, 7]);
    });
  });
}

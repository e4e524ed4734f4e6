import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../src/ml/engine';
import { adam, adamw, clipByGlobalNorm, namedGrads, type NamedTensors } from '../../src/ml/train/optim';

/** PyTorch's Adam/AdamW update written out in plain numbers, one parameter vector. */
function referenceAdam(p: number[], grads: number[][], lr: number, wd: number, decoupled: boolean): number[] {
  const b1 = 0.9;
  const b2 = 0.999;
  const eps = 1e-8;
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  const x = p.slice();
  grads.forEach((gs, k) => {
    const t = k + 1;
    for (let i = 0; i < x.length; i++) {
      let g = gs[i]!;
      if (decoupled) x[i] = x[i]! * (1 - lr * wd);
      else g += wd * x[i]!;
      m[i] = b1 * m[i]! + (1 - b1) * g;
      v[i] = b2 * v[i]! + (1 - b2) * g * g;
      const denom = Math.sqrt(v[i]!) / Math.sqrt(1 - b2 ** t) + eps;
      x[i] = x[i]! - (lr / (1 - b1 ** t)) * (m[i]! / denom);
    }
  });
  return x;
}

afterAll(() => tf.disposeVariables());

describe.each([
  ['cpu', true],
  ['cpu', false],
  ['wasm', true],
  ['wasm', false],
] as const)('Adam / AdamW (PyTorch semantics) on %s, flattened groups: %s', (backend, flatten) => {
  beforeAll(async () => {
    await initEngine({ backend });
  });
  const grads = [
    [0.5, -1, 2],
    [0.1, 0.2, -0.3],
    [1, 1, 1],
  ];
  for (const [label, decoupled, wd] of [
    ['Adam', false, 0],
    ['Adam with L2', false, 0.1],
    ['AdamW', true, 0.01],
  ] as const) {
    it(`${label} matches the written-out update`, () => {
      const w = tf.variable(tf.tensor1d([1, -2, 3]));
      const opt = decoupled ? adamw({ w }, { lr: 0.1, weightDecay: wd, flatten }) : adam({ w }, { lr: 0.1, weightDecay: wd, flatten });
      for (const g of grads) {
        const gt = tf.tensor1d(g);
        opt.apply({ w: gt });
        gt.dispose();
      }
      const expected = referenceAdam([1, -2, 3], grads, 0.1, wd, decoupled);
      const got = Array.from(w.dataSync());
      got.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
      expect(opt.step).toBe(3);
      opt.dispose();
      w.dispose();
    });
  }

  it('restores exported state and continues identically', async () => {
    const mk = () => tf.variable(tf.tensor2d([[1, 2], [3, 4]]));
    const a = mk();
    const optA = adamw({ a }, { lr: 0.05, flatten });
    const g1 = tf.tensor2d([[0.3, -0.1], [0.2, 0.5]]);
    const g2 = tf.tensor2d([[-0.4, 0.6], [0.1, -0.2]]);
    optA.apply({ a: g1 });
    const saved = await optA.exportState();
    const snapshot = a.dataSync().slice();
    optA.apply({ a: g2 });

    const b = tf.variable(tf.tensor2d(snapshot, [2, 2]));
    const optB = adamw({ a: b }, { lr: 0.05, flatten: !flatten });
    optB.importState(saved);
    optB.apply({ a: g2 });
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(() => adam({ a: b }, { lr: 0.05 }).importState(saved)).toThrow(/adamw/);
    [g1, g2, a, b].forEach((t) => t.dispose());
    optA.dispose();
    optB.dispose();
  });

  it('updates several tensors exactly as one at a time, incl. a parameter that misses a step, and exports per parameter', async () => {
    const shapes: Record<string, number[]> = { 'enc.w': [3, 3, 2, 4], 'enc.b': [4], 'dec.w': [4, 5], 'dec.b': [5] };
    const make = () => Object.fromEntries(Object.entries(shapes).map(([n, s], i) => [n, tf.variable(tf.randomNormal(s, 0, 1, 'float32', i + 1))]));
    const flat = make();
    const single = make();
    const optFlat = adamw(flat, { lr: 0.03, flatten: true });
    const optSingle = adamw(single, { lr: 0.03, flatten: false });
    for (let step = 0; step < 4; step++) {
      // Step 2 leaves dec.b without a gradient: neither it nor its moments may change.
      const names = Object.keys(shapes).filter((n) => !(step === 2 && n === 'dec.b'));
      const grads: NamedTensors = Object.fromEntries(names.map((n, i) => [n, tf.randomNormal(shapes[n]!, 0, 1, 'float32', 100 * step + i)]));
      optFlat.apply(grads);
      optSingle.apply(grads);
      tf.dispose(Object.values(grads));
    }
    for (const name of Object.keys(shapes)) expect(Array.from(flat[name]!.dataSync()), name).toEqual(Array.from(single[name]!.dataSync()));
    const [sf, ss] = [await optFlat.exportState(), await optSingle.exportState()];
    expect(Object.keys(sf.tensors).sort()).toEqual(Object.keys(ss.tensors).sort());
    for (const [key, t] of Object.entries(ss.tensors)) {
      expect(sf.tensors[key]!.shape, key).toEqual(t.shape);
      expect(Array.from(sf.tensors[key]!.data), key).toEqual(Array.from(t.data));
    }
    const before = tf.memory().numTensors;
    const g = Object.fromEntries(Object.entries(shapes).map(([n, s]) => [n, tf.ones(s)]));
    optFlat.apply(g);
    tf.dispose(Object.values(g));
    expect(tf.memory().numTensors).toBe(before);
    optFlat.dispose();
    optSingle.dispose();
    tf.dispose([...Object.values(flat), ...Object.values(single)]);
  });

  it('clips by global norm like clip_grad_norm_', () => {
    const g = { x: tf.tensor1d([3, 0]), y: tf.tensor1d([0, 4]) };
    const { grads: clipped, norm } = clipByGlobalNorm(g, 1);
    expect(norm.dataSync()[0]).toBeCloseTo(5, 5);
    expect(Array.from(clipped.x!.dataSync())[0]).toBeCloseTo(0.6, 5);
    expect(Array.from(clipped.y!.dataSync())[1]).toBeCloseTo(0.8, 5);
    const small = clipByGlobalNorm({ x: tf.tensor1d([0.1, 0.2]) }, 1);
    expect(Array.from(small.grads.x!.dataSync())).toEqual([0.10000000149011612, 0.20000000298023224]);
  });

  it('namedGrads keys gradients by parameter name and skips unused parameters', () => {
    const used = tf.variable(tf.scalar(2));
    const unused = tf.variable(tf.scalar(5));
    const { value, grads } = namedGrads(() => tf.square(used) as tf.Scalar, { 'enc.w': used, 'dec.w': unused });
    expect(value.dataSync()[0]).toBe(4);
    expect(Object.keys(grads)).toEqual(['enc.w']);
    expect(grads['enc.w']!.dataSync()[0]).toBe(4);
  });
});

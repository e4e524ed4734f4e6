import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StateDict } from '../../src/ml/io';
import { initEngine } from '../../src/ml/engine';
import { averaged, WeightAverage } from '../../src/ml/train/ema';

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
});

const values = (v: tf.Tensor) => Array.from(v.dataSync());

describe('WeightAverage (exponential moving average of trained weights)', () => {
  it('averages with the warm-up decay min(decay, (1+n)/(10+n)), swaps in and out, and keeps every shape', async () => {
    const params = { a: tf.variable(tf.tensor2d([[0, 0]])), b: tf.variable(tf.tensor1d([10])) };
    const avg = new WeightAverage(params, 0.5);
    let expectA = 0;
    let expectB = 10;
    for (const [n, target] of [[1, 1], [2, 3], [3, -2], [4, 5], [5, 4]] as const) {
      params.a.assign(tf.tensor2d([[target, 2 * target]]));
      params.b.assign(tf.tensor1d([target + 10]));
      avg.update();
      const d = Math.min(0.5, (1 + n) / (10 + n));
      expectA = d * expectA + (1 - d) * target;
      expectB = d * expectB + (1 - d) * (target + 10);
    }
    expect(avg.count).toBe(5);
    const inside = await avg.withAverage(async () => [values(params.a), values(params.b), params.a.shape]);
    expect(inside[0]![0]).toBeCloseTo(expectA, 5);
    expect(inside[0]![1]).toBeCloseTo(2 * expectA, 5);
    expect(inside[1]![0]).toBeCloseTo(expectB, 5);
    expect(inside[2]).toEqual([1, 2]);
    // the trained weights are back afterwards, also when the work throws
    expect(values(params.a)).toEqual([4, 8]);
    await expect(avg.withAverage(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(values(params.b)).toEqual([14]);
    expect(await averaged(null, async () => values(params.b))).toEqual([14]);
    avg.dispose();
  });

  it('restores from a checkpoint written under the average: trained weights back in the variables, the average in the shadow', async () => {
    const params = { w: tf.variable(tf.tensor1d([1, 2, 3])) };
    const avg = new WeightAverage(params, 0.9);
    params.w.assign(tf.tensor1d([5, 5, 5]));
    avg.update();
    params.w.assign(tf.tensor1d([7, 8, 9]));
    avg.update();
    const state: StateDict = new Map();
    const model = await avg.withAverage(async () => {
      await avg.trainedToStateDict('trained', state);
      return values(params.w);
    });
    expect(Array.from(state.get('trained.w')!.data)).toEqual([7, 8, 9]);
    expect(state.get('trained.__updates__')!.data[0]).toBe(2);

    // A fresh network loads the checkpoint's model file (the average), then the state.
    const fresh = { w: tf.variable(tf.tensor1d(model)) };
    const again = new WeightAverage(fresh, 0.9);
    again.restore(state, 'trained');
    expect(again.count).toBe(2);
    expect(values(fresh.w)).toEqual([7, 8, 9]);
    const restored = await again.withAverage(async () => values(fresh.w));
    restored.forEach((v, i) => expect(v).toBeCloseTo(model[i]!, 6));

    // A checkpoint without trained weights (written before the average was on) starts it from the model.
    const plain = { w: tf.variable(tf.tensor1d([4, 4, 4])) };
    const fromPlain = new WeightAverage(plain, 0.9);
    fromPlain.restore(new Map(), 'trained');
    expect(fromPlain.count).toBe(0);
    expect(await fromPlain.withAverage(async () => values(plain.w))).toEqual([4, 4, 4]);
    [avg, again, fromPlain].forEach((a) => a.dispose());
  });

  it('refuses a decay outside (0, 1)', () => {
    const params = { w: tf.variable(tf.tensor1d([1])) };
    expect(() => new WeightAverage(params, 1)).toThrow(/decay must be in \(0, 1\), got 1/);
    expect(() => new WeightAverage(params, 0)).toThrow(/got 0/);
  });
});

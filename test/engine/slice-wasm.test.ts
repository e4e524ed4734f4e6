import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../src/ml/engine';
import { copySlice } from '../../src/ml/engine/kernels/sliceWasm';

/** Naive reference: every element of the box, by its multi-index. */
function naiveSlice(values: Float32Array, shape: number[], begin: number[], size: number[]): number[] {
  const strides = tf.util.computeStrides(shape);
  const out: number[] = [];
  const total = size.reduce((p, d) => p * d, 1);
  for (let i = 0; i < total; i++) {
    let rem = i;
    let off = 0;
    for (let d = size.length - 1; d >= 0; d--) {
      const k = rem % size[d]!;
      rem = Math.floor(rem / size[d]!);
      off += (begin[d]! + k) * (d === shape.length - 1 ? 1 : strides[d]!);
    }
    out.push(values[off]!);
  }
  return out;
}

const CASES: Array<[number[], number[], number[]]> = [
  [[10], [3], [5]],
  [[4, 7], [1, 2], [2, 4]],
  [[4, 7], [1, 0], [3, 7]],
  [[3, 5, 6], [0, 1, 2], [3, 3, 3]],
  [[2, 9, 8, 3], [0, 1, 1, 0], [2, 7, 6, 3]],
  [[2, 9, 8, 3], [1, 0, 0, 0], [1, 9, 8, 3]],
  [[2, 3, 4, 5, 2], [1, 1, 0, 2, 1], [1, 2, 4, 3, 1]],
];

describe('wasm Slice / SplitV / Identity without whole-input copies', () => {
  beforeAll(async () => {
    await initEngine({ backend: 'wasm' });
  });

  it('copySlice matches a naive multi-index loop', () => {
    for (const [shape, begin, size] of CASES) {
      const n = shape.reduce((p, d) => p * d, 1);
      const src = Float32Array.from({ length: n }, (_, i) => i * 0.5 - 3);
      const dst = new Float32Array(size.reduce((p, d) => p * d, 1));
      copySlice(src, shape, begin, size, dst);
      expect(Array.from(dst), JSON.stringify([shape, begin, size])).toEqual(naiveSlice(src, shape, begin, size));
    }
  });

  it('tf.slice and tf.split on wasm give the exact values, for float32, int32 and bool', async () => {
    for (const [shape, begin, size] of CASES) {
      const n = shape.reduce((p, d) => p * d, 1);
      const values = Float32Array.from({ length: n }, (_, i) => Math.sin(i));
      const x = tf.tensor(values, shape);
      const got = tf.slice(x, begin, size);
      expect(got.shape).toEqual(size);
      expect(Array.from(await got.data())).toEqual(naiveSlice(values, shape, begin, size));
      tf.dispose([x, got]);
    }
    const ints = tf.tensor2d([[1, 2, 3], [4, 5, 6]], undefined, 'int32');
    expect(await tf.slice(ints, [0, 1], [2, 2]).array()).toEqual([[2, 3], [5, 6]]);
    const bools = tf.tensor1d([true, false, true, true], 'bool');
    expect(await tf.slice(bools, 1, 2).array()).toEqual([0, 1]);
    const flat = tf.range(0, 20);
    const parts = tf.split(flat, [3, 0, 12, 5]);
    expect(parts.map((p) => p.shape[0])).toEqual([3, 0, 12, 5]);
    expect(Array.from(await parts[2]!.data())).toEqual(Array.from({ length: 12 }, (_, i) => i + 3));
    const m = tf.reshape(tf.range(0, 24), [4, 6]);
    const cols = tf.split(m, [2, 4], 1);
    expect(await cols[0]!.array()).toEqual([[0, 1], [6, 7], [12, 13], [18, 19]]);
    tf.dispose([ints, bools, flat, ...parts, m, ...cols]);
  });

  it('Identity shares data safely: the copy outlives its source, memory balances', async () => {
    const before = tf.memory().numTensors;
    const bytes = tf.memory().numBytes;
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    const y = tf.clone(x);
    x.dispose();
    expect(await y.array()).toEqual([[1, 2], [3, 4]]);
    const v = tf.variable(y);
    y.dispose();
    const z = tf.tensor2d([[5, 6], [7, 8]]);
    v.assign(z);
    z.dispose();
    expect(await v.array()).toEqual([[5, 6], [7, 8]]);
    v.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.memory().numBytes).toBe(bytes);
  });

  it('slice gradients still flow (the kernel only replaces the forward copy)', async () => {
    const x = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.square(tf.slice(t, [0, 1], [2, 2]))))(x);
    expect(await g.array()).toEqual([[0, 4, 6], [0, 10, 12]]);
    tf.dispose([x, g]);
  });
});

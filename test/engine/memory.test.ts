import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { assertNoLeak, initEngine, liveTensors, withTidy } from '../../src/ml/engine';
import { testBackends } from './backends';

/**
 * A training loop must not grow the tensor count: 50 Adam steps on a small conv net that uses
 * every fixed kernel path (strided conv, nearest upsample, attention-style batched matMul,
 * gather), on each backend available here.
 */
const backends = await testBackends();

function smallNet(seed: number) {
  const v = <R extends tf.Rank>(shape: number[], s: number) => tf.variable(tf.mul(tf.randomNormal(shape, 0, 1, 'float32', seed + s), 0.2)) as tf.Variable<R>;
  return {
    c1: v<tf.Rank.R4>([3, 3, 2, 8], 1),
    c2: v<tf.Rank.R4>([3, 3, 8, 8], 2),
    c3: v<tf.Rank.R4>([3, 3, 8, 1], 3),
    table: v<tf.Rank.R2>([4, 8], 4),
  };
}

describe('memory discipline', () => {
  for (const be of backends) {
    it.skipIf(!be.available)(`50 Adam steps do not grow tf.memory().numTensors on ${be.name}${be.available ? '' : ` (skipped: ${be.reason})`}`, async () => {
      await initEngine({ backend: be.name, forceWebgpu: true });
      const net = smallNet(7);
      const x = tf.randomNormal([2, 8, 8, 2], 0, 1, 'float32', 1) as tf.Tensor4D;
      const target = tf.randomNormal([2, 8, 8, 1], 0, 1, 'float32', 2);
      const ids = tf.tensor1d([1, 3], 'int32');
      const opt = tf.train.adam(1e-2);
      const loss = (): tf.Scalar => {
        let h = tf.relu(tf.conv2d(x, net.c1, 2, [[0, 0], [1, 1], [1, 1], [0, 0]])); // [2,4,4,8]
        const tokens = tf.reshape(h, [2, 16, 8]);
        const att = tf.softmax(tf.matMul(tokens, tokens, false, true));
        h = tf.reshape(tf.matMul(att, tokens), [2, 4, 4, 8]);
        h = tf.add(h, tf.reshape(tf.gather(net.table, ids), [2, 1, 1, 8]));
        h = tf.image.resizeNearestNeighbor(h as tf.Tensor4D, [8, 8]);
        h = tf.mul(h, tf.sigmoid(tf.conv2d(h as tf.Tensor4D, net.c2, 1, 'same')));
        return tf.mean(tf.square(tf.sub(tf.conv2d(h as tf.Tensor4D, net.c3, 1, 'same'), target)));
      };
      const step = () =>
        withTidy(() => {
          const { value, grads } = tf.variableGrads(loss);
          opt.applyGradients(grads as Parameters<typeof opt.applyGradients>[0]);
          return value;
        });
      const first = step();
      const firstLoss = (await first.data())[0];
      first.dispose(); // the first step also creates Adam's slot variables
      const baseline = liveTensors();
      let last = 0;
      for (let i = 0; i < 50; i++) {
        const l = step();
        last = (await l.data())[0];
        l.dispose();
        expect(liveTensors(), `step ${i}`).toBe(baseline);
      }
      expect(last).toBeLessThan(firstLoss); // it trains
      opt.dispose();
      tf.dispose([x, target, ids, ...Object.values(net)]);
    });
  }

  it('assertNoLeak passes clean work and reports leaks with counts', async () => {
    await initEngine({ backend: 'wasm' });
    const kept = await assertNoLeak(() => tf.tidy(() => tf.add(tf.ones([2]), 1)), 1, 'returning one tensor');
    kept.dispose();
    let leak: tf.Tensor | undefined;
    await expect(assertNoLeak(() => {
      leak = tf.ones([3]);
    }, 0, 'leaky op')).rejects.toThrow(/leaky op leaked 1 tensor/);
    leak?.dispose();
  });
});

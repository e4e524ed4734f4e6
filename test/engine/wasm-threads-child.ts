/**
 * Child process for wasm-threads.test.ts: starts wasm with BRAINSYNTH_WASM_THREADS threads, runs
 * a few seeded training steps of a small conv + attention-shaped network and prints the thread
 * count and a digest of every value it produced, as JSON.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { initEngine, readFloat32 } from '../../src/ml/engine';
import { adam, namedGrads } from '../../src/ml/train/optim';

const info = await initEngine({ backend: 'wasm' });
const x = tf.randomNormal([4, 24, 20, 8], 0, 1, 'float32', 1) as tf.Tensor4D;
const params = {
  conv: tf.variable(tf.randomNormal([3, 3, 8, 16], 0, 0.2, 'float32', 2)),
  down: tf.variable(tf.randomNormal([3, 3, 16, 16], 0, 0.2, 'float32', 3)),
  proj: tf.variable(tf.randomNormal([16, 16], 0, 0.2, 'float32', 4)),
};
const opt = adam(params, { lr: 1e-2 });
const hash = createHash('sha256');
for (let step = 0; step < 3; step++) {
  const loss = tf.tidy(() => {
    const { value, grads } = namedGrads(() => {
      const h = tf.relu(tf.conv2d(x, params.conv as tf.Variable<tf.Rank.R4>, 1, 'same'));
      const d = tf.conv2d(h, params.down as tf.Variable<tf.Rank.R4>, 2, 'same');
      const t = tf.reshape(d, [4, -1, 16]);
      const a = tf.softmax(tf.matMul(t, t, false, true));
      const y = tf.matMul(tf.reshape(tf.matMul(a, t), [-1, 16]), params.proj as tf.Variable<tf.Rank.R2>);
      return tf.mean(tf.square(y)) as tf.Scalar;
    }, params);
    opt.apply(grads);
    return value;
  });
  hash.update(Buffer.from((await readFloat32(loss)).buffer));
  loss.dispose();
}
for (const v of Object.values(params)) hash.update(Buffer.from((await readFloat32(v)).buffer));
process.stdout.write(JSON.stringify({ threads: info.wasmThreads, note: info.wasmThreadsNote ?? null, digest: hash.digest('hex') }) + '\n');

/**
 * Where the autoencoder's train step spends its time: the desktop AutoencoderKL (L1 + KL, Adam,
 * batch 8, 80x112) profiled kernel by kernel with tf.profile, per kernel name: total ms per step,
 * share of the summed kernel time, call count. Kernels the engine composes from other kernels
 * (its Conv2DBackpropInput/Filter, BatchMatMul fixes) include their inner kernels' time, which
 * are listed too, so shares add up to more than 100% where those run.
 *
 * `npm run bench -- profile-ae`. Env: BENCH_BACKEND=wasm  BENCH_BATCH=8  BENCH_TOP=15.
 */
import * as tf from '@tensorflow/tfjs';
import { initEngine, type BackendName } from '../src/ml/engine';
import { klLoss, l1Loss } from '../src/ml/losses/basic';
import { createNetwork, presetConfig } from '../src/ml/networks';
import { adam, namedGrads } from '../src/ml/train/optim';
import type { BenchResult } from './_common';

const BACKEND = (process.env.BENCH_BACKEND ?? 'wasm') as BackendName;
const BATCH = Number(process.env.BENCH_BATCH ?? 8);
const TOP = Number(process.env.BENCH_TOP ?? 15);

export default async function profileAe(): Promise<{ description: string; results: BenchResult[] }> {
  const info = await initEngine({ backend: BACKEND });
  const ae = createNetwork('autoencoderkl', presetConfig('autoencoderkl', 'desktop')).initialize(1);
  const params = Object.fromEntries(ae.namedTrainables());
  const opt = adam(params, { lr: 1e-4 });
  const x = tf.randomUniform([BATCH, 80, 112, 1], 0, 1, 'float32', 2) as tf.Tensor4D;
  const step = () =>
    tf.tidy(() => {
      const { value, grads } = namedGrads(() => {
        const { reconstruction, mu, sigma } = ae.forward(x);
        return tf.add(l1Loss(reconstruction, x), tf.mul(klLoss(mu, sigma), 1e-6)) as tf.Scalar;
      }, params);
      opt.apply(grads);
      return value;
    });
  try {
    for (let i = 0; i < 2; i++) await step().data().then(() => undefined);
    const t0 = performance.now();
    const profile = await tf.profile(() => step());
    const wallMs = performance.now() - t0;
    tf.dispose(profile.result as tf.Tensor);
    const byName = new Map<string, { ms: number; calls: number }>();
    for (const k of profile.kernels) {
      const e = byName.get(k.name) ?? { ms: 0, calls: 0 };
      e.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      e.calls += 1;
      byName.set(k.name, e);
    }
    const total = [...byName.values()].reduce((s, e) => s + e.ms, 0);
    const rows = [...byName.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, TOP);
    const results: BenchResult[] = rows.map(([name, e]) => ({
      case: `${info.backend} AE step: ${name}`,
      value: e.ms,
      unit: 'ms',
      detail: { share: e.ms / total, calls: e.calls },
    }));
    results.push({ case: `${info.backend} AE step: all kernels`, value: total, unit: 'ms', detail: { kernels: profile.kernels.length, profiledWallMs: wallMs, wasmThreads: info.wasmThreads } });
    for (const [name, e] of rows) process.stdout.write(`[profile-ae] ${name.padEnd(24)} ${e.ms.toFixed(1).padStart(8)} ms  ${((100 * e.ms) / total).toFixed(1).padStart(5)}%  ${e.calls} calls\n`);
    return { description: `desktop AutoencoderKL train step (L1+KL, Adam), batch ${BATCH}, per-kernel time from tf.profile on ${info.backend}${info.wasmThreads ? ` (${info.wasmThreads} threads)` : ''}`, results };
  } finally {
    x.dispose();
    opt.dispose();
    ae.dispose();
  }
}

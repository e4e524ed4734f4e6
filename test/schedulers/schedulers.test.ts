import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  DDIMScheduler,
  DDPMScheduler,
  REFERENCE_DDIM,
  REFERENCE_DDIM_STEPS,
  REFERENCE_DDPM,
  createGenerator,
  randnTensor,
  inferenceTimesteps,
  makeNoiseSchedule,
  torchLinspaceFloat32,
} from '../../src/ml/schedulers';
import { hasShared, sharedPath } from '../helpers/shared';
import { f32, ints, readSafetensorsFixture, type FixtureTensor } from './safetensorsFixture';
import { initEngine } from '../../src/ml/engine';

const FIXTURE = 'fixtures/monai/schedulers.io.safetensors';
const noShared = `../shared not found (${FIXTURE}); set BRAINSYNTH_SHARED to run the MONAI golden checks`;

beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
});

function tensorOf(map: Map<string, FixtureTensor>, name: string): tf.Tensor {
  const { data, shape } = f32(map, name);
  return tf.tensor(data, shape, 'float32');
}

function normals(seed: number, count: number): Float32Array {
  return createGenerator(seed).fillNormal(new Float32Array(count));
}

function countDifferent(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) n++;
  return n;
}

describe('reference schedule (scaled-linear DDPM, 1000 steps, beta 0.0015..0.0205: check values)', () => {
  const s = makeNoiseSchedule(REFERENCE_DDPM);
  it('betas follow the scaled-linear schedule', () => {
    expect(s.betas[0]).toBeCloseTo(0.0015, 8);
    expect(s.betas[1]).toBeCloseTo(0.00150811, 8);
    expect(s.betas[499]).toBeCloseTo(0.00826313, 8);
    expect(s.betas[999]).toBeCloseTo(0.0205, 8);
  });
  it('alphas_cumprod match the published anchors', () => {
    const rel = (got: number, want: number) => Math.abs(got - want) / want;
    expect(rel(s.alphasCumprod[0], 0.9985)).toBeLessThan(1e-6);
    expect(rel(s.alphasCumprod[4], 0.992442)).toBeLessThan(1e-6);
    expect(rel(s.alphasCumprod[499], 0.108576)).toBeLessThan(1e-5);
    expect(rel(s.alphasCumprod[990], 1.16642e-4)).toBeLessThan(1e-5);
    expect(rel(s.alphasCumprod[994], 1.07453e-4)).toBeLessThan(1e-5);
    expect(rel(s.alphasCumprod[995], 1.05263e-4)).toBeLessThan(1e-5);
    expect(rel(s.alphasCumprod[999], 9.69109e-5)).toBeLessThan(1e-5);
  });
  it('linear_beta is a float32 linspace of the betas themselves', () => {
    const lin = makeNoiseSchedule({ numTrainTimesteps: 1000, schedule: 'linear_beta', betaStart: 1e-4, betaEnd: 2e-2 });
    expect(lin.betas[0]).toBe(Math.fround(1e-4));
    expect(lin.betas[999]).toBe(Math.fround(2e-2));
    expect(lin.betas[500] - lin.betas[499]).toBeCloseTo((2e-2 - 1e-4) / 999, 7);
  });
  it('linspace handles lengths that are not a multiple of the vector width', () => {
    for (const n of [1, 2, 7, 17, 33]) {
      const v = torchLinspaceFloat32(0.1, 0.9, n);
      expect(v.length).toBe(n);
      expect(v[0]).toBe(Math.fround(0.1));
      if (n > 1) expect(v[n - 1]).toBe(Math.fround(0.9));
      for (let i = 0; i < n; i++) expect(v[i]).toBeCloseTo(n === 1 ? 0.1 : 0.1 + (0.8 * i) / (n - 1), 6);
    }
  });
  it('rejects bad schedule parameters with a clear message', () => {
    expect(() => makeNoiseSchedule({ numTrainTimesteps: 0, schedule: 'linear_beta', betaStart: 1e-4, betaEnd: 2e-2 })).toThrow(/positive integer/);
    expect(() => makeNoiseSchedule({ numTrainTimesteps: 10, schedule: 'linear_beta', betaStart: 0, betaEnd: 2e-2 })).toThrow(/beta range/);
  });
});

describe('timesteps', () => {
  it('DDIM with 200 steps runs 995, 990, ..., 5, 0 (leading spacing, the reference)', () => {
    const d = new DDIMScheduler(REFERENCE_DDIM);
    const ts = d.setTimesteps(REFERENCE_DDIM_STEPS);
    expect(ts.length).toBe(200);
    expect(Array.from(ts.slice(0, 4))).toEqual([995, 990, 985, 980]);
    expect(Array.from(ts.slice(-4))).toEqual([15, 10, 5, 0]);
  });
  it('the constructor sets all T timesteps, 999..0', () => {
    const d = new DDIMScheduler(REFERENCE_DDIM);
    expect(d.timesteps.length).toBe(1000);
    expect(d.timesteps[0]).toBe(999);
    expect(d.timesteps[999]).toBe(0);
  });
  it('offers the later MONAI spacings and steps_offset', () => {
    expect(Array.from(inferenceTimesteps(1000, 4, { spacing: 'linspace' }))).toEqual([999, 666, 333, 0]);
    expect(Array.from(inferenceTimesteps(1000, 4, { spacing: 'trailing' }))).toEqual([999, 749, 499, 249]);
    expect(Array.from(inferenceTimesteps(1000, 4, { stepsOffset: 1 }))).toEqual([751, 501, 251, 1]);
    const d = new DDIMScheduler({ ...REFERENCE_DDIM, timestepSpacing: 'trailing' });
    expect(Array.from(d.setTimesteps(200).slice(0, 2))).toEqual([999, 994]);
  });
  it('refuses more inference steps than training timesteps', () => {
    expect(() => inferenceTimesteps(1000, 1001)).toThrow(/cannot exceed/);
    expect(() => new DDIMScheduler(REFERENCE_DDIM).setTimesteps(0)).toThrow(/positive integer/);
  });
});

describe.skipIf(!hasShared)(hasShared ? 'MONAI golden values (schedulers.io.safetensors)' : noShared, () => {
  const load = () => readSafetensorsFixture(sharedPath(FIXTURE)).tensors;

  it('betas and alphas_cumprod are bit-identical to torch float32', () => {
    const m = load();
    const s = makeNoiseSchedule(REFERENCE_DDPM);
    expect(countDifferent(s.betas, f32(m, 'betas').data)).toBe(0);
    expect(countDifferent(s.alphasCumprod, f32(m, 'alphas_cumprod').data)).toBe(0);
  });

  it('add_noise and get_velocity with per-sample timesteps are bit-identical', () => {
    const m = load();
    const ddpm = new DDPMScheduler(REFERENCE_DDPM);
    const t = ints(m, 't');
    expect(t.length).toBe(2);
    const [noisy, velocity] = tf.tidy(() => {
      const x0 = tensorOf(m, 'x0');
      const noise = tensorOf(m, 'noise');
      return [ddpm.addNoise(x0, noise, t).dataSync(), ddpm.getVelocity(x0, noise, t).dataSync()];
    });
    expect(countDifferent(noisy, f32(m, 'noisy').data)).toBe(0);
    expect(countDifferent(velocity, f32(m, 'velocity').data)).toBe(0);
  });

  it('DDIM timesteps for 200 steps match', () => {
    const m = load();
    const d = new DDIMScheduler(REFERENCE_DDIM);
    expect(Array.from(d.setTimesteps(200))).toEqual(ints(m, 'ddim_timesteps'));
  });

  it('a DDPM step at t=0 (v-prediction, clip_sample) is bit-identical', () => {
    const m = load();
    const ddpm = new DDPMScheduler(REFERENCE_DDPM);
    // The fixture's DDPM step starts from the end of its 3-step DDIM chain.
    const got = tf.tidy(() => {
      const r = ddpm.step(tensorOf(m, 'ddpm_model_out'), 0, tensorOf(m, 'ddim_after_step_2'));
      return r.prevSample.dataSync();
    });
    expect(countDifferent(got, f32(m, 'ddpm_step_t0').data)).toBe(0);
  });
});

describe('DDIM step', () => {
  it('the last step (t = 0) returns x0_hat exactly, for every prediction type', () => {
    for (const predictionType of ['epsilon', 'v_prediction', 'sample'] as const) {
      const d = new DDIMScheduler({ ...REFERENCE_DDIM, predictionType });
      d.setTimesteps(200);
      tf.tidy(() => {
        const g = createGenerator(1);
        const x = randnTensor(g, [2, 3, 4, 5]);
        const out = randnTensor(g, [2, 3, 4, 5]);
        const r = d.step(out, 0, x);
        expect(countDifferent(r.prevSample.dataSync(), r.predOriginalSample.dataSync())).toBe(0);
      });
    }
  });

  it('at t = 995 (v-prediction) equals sqrt(abar_990) x0 + sqrt(1 - abar_990) eps', () => {
    const d = new DDIMScheduler(REFERENCE_DDIM);
    d.setTimesteps(200);
    const a = d.schedule.alphasCumprod;
    const g = createGenerator(7);
    const x = g.fillNormal(new Float32Array(24));
    const v = g.fillNormal(new Float32Array(24));
    const got = tf.tidy(() => d.step(tf.tensor(v, [1, 2, 3, 4]), 995, tf.tensor(x, [1, 2, 3, 4])).prevSample.dataSync());
    const sa = Math.sqrt(a[995]);
    const sb = Math.sqrt(1 - a[995]);
    for (let i = 0; i < 24; i++) {
      const x0 = sa * x[i] - sb * v[i];
      const eps = sa * v[i] + sb * x[i];
      const want = Math.sqrt(a[990]) * x0 + Math.sqrt(1 - a[990]) * eps;
      expect(Math.abs(got[i] - want)).toBeLessThan(1e-5 * Math.max(1, Math.abs(want)));
    }
  });

  it('per-sample timesteps give the same result as stepping each sample alone', () => {
    const d = new DDIMScheduler({ ...REFERENCE_DDIM, predictionType: 'epsilon' });
    d.setTimesteps(50);
    const g = createGenerator(3);
    const x = g.fillNormal(new Float32Array(2 * 6));
    const out = g.fillNormal(new Float32Array(2 * 6));
    tf.tidy(() => {
      const both = d.step(tf.tensor(out, [2, 1, 2, 3]), [980, 20], tf.tensor(x, [2, 1, 2, 3])).prevSample.dataSync();
      const a = d.step(tf.tensor(out.slice(0, 6), [1, 1, 2, 3]), 980, tf.tensor(x.slice(0, 6), [1, 1, 2, 3])).prevSample.dataSync();
      const b = d.step(tf.tensor(out.slice(6), [1, 1, 2, 3]), 20, tf.tensor(x.slice(6), [1, 1, 2, 3])).prevSample.dataSync();
      expect(countDifferent(both, [...a, ...b])).toBe(0);
    });
    expect(() => tf.tidy(() => d.step(tf.zeros([3, 1, 2, 2]), [1, 2], tf.zeros([3, 1, 2, 2])))).toThrow(/2 timesteps for a batch of 3/);
  });

  it('eta > 0 is reproducible from the seed and needs a generator', () => {
    const d = new DDIMScheduler(REFERENCE_DDIM);
    d.setTimesteps(10);
    const run = (seed: number) =>
      tf.tidy(() => {
        const x = tf.ones([1, 1, 3, 3]);
        return d.step(tf.zeros([1, 1, 3, 3]), 900, x, { eta: 1, generator: createGenerator(seed) }).prevSample.dataSync();
      });
    expect(countDifferent(run(5), run(5))).toBe(0);
    expect(countDifferent(run(5), run(6))).toBeGreaterThan(0);
    expect(() => tf.tidy(() => d.step(tf.zeros([1, 1, 2, 2]), 900, tf.zeros([1, 1, 2, 2]), { eta: 0.5 }))).toThrow(/generator/);
  });

  it('clip_sample clamps x0_hat to [-1, 1]', () => {
    const d = new DDIMScheduler({ ...REFERENCE_DDIM, predictionType: 'sample', clipSample: true });
    d.setTimesteps(10);
    const x0 = tf.tidy(() => d.step(tf.tensor([[[[-3, 0.5, 2]]]]), 0, tf.zeros([1, 1, 1, 3])).predOriginalSample.dataSync());
    expect(Array.from(x0)).toEqual([-1, 0.5, 1]);
  });

  it('does not leak tensors', () => {
    const d = new DDIMScheduler(REFERENCE_DDIM);
    d.setTimesteps(20);
    const x = tf.randomNormal([2, 3, 4, 4]);
    const before = tf.memory().numTensors;
    for (const t of d.timesteps) {
      const r = d.step(x, t, x);
      r.prevSample.dispose();
      r.predOriginalSample.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});

describe('DDPM step', () => {
  it('epsilon prediction reproduces the posterior mean formula', () => {
    const ddpm = new DDPMScheduler({ ...REFERENCE_DDPM, predictionType: 'epsilon', clipSample: false });
    const { alphasCumprod: ac, betas, alphas } = ddpm.schedule;
    const t = 500;
    const g = createGenerator(11);
    const x = g.fillNormal(new Float32Array(8));
    const eps = g.fillNormal(new Float32Array(8));
    // With fixed noise z, x_{t-1} = mu + sqrt(var) z; the generator is replayed to get z.
    const got = tf.tidy(() => ddpm.step(tf.tensor(eps, [1, 8]), t, tf.tensor(x, [1, 8]), { generator: createGenerator(99) }).prevSample.dataSync());
    const z = normals(99, 8);
    for (let i = 0; i < 8; i++) {
      const x0 = (x[i] - Math.sqrt(1 - ac[t]) * eps[i]) / Math.sqrt(ac[t]);
      const mu = (Math.sqrt(ac[t - 1]) * betas[t] / (1 - ac[t])) * x0 + (Math.sqrt(alphas[t]) * (1 - ac[t - 1]) / (1 - ac[t])) * x[i];
      const variance = ((1 - ac[t - 1]) / (1 - ac[t])) * betas[t];
      expect(got[i]).toBeCloseTo(mu + Math.sqrt(variance) * z[i], 5);
    }
  });

  it('fixed_large uses beta_t as the variance', () => {
    const small = new DDPMScheduler(REFERENCE_DDPM);
    const large = new DDPMScheduler({ ...REFERENCE_DDPM, varianceType: 'fixed_large' });
    expect(large.variance(300)).toBe(large.schedule.betas[300]);
    expect(small.variance(300)).toBeLessThan(large.variance(300));
    expect(small.variance(0)).toBeCloseTo(1e-20, 25);
  });

  it('refuses to add noise without a generator, and out-of-range timesteps', () => {
    const ddpm = new DDPMScheduler(REFERENCE_DDPM);
    expect(() => tf.tidy(() => ddpm.step(tf.zeros([1, 2]), 10, tf.zeros([1, 2])))).toThrow(/generator/);
    expect(() => tf.tidy(() => ddpm.step(tf.zeros([1, 2]), 1000, tf.zeros([1, 2])))).toThrow(/outside \[0, 999\]/);
  });
});

describe('seeded noise', () => {
  it('is reproducible and seed-sensitive', () => {
    const a = normals(42, 2000);
    expect(countDifferent(a, normals(42, 2000))).toBe(0);
    expect(countDifferent(a, normals(43, 2000))).toBeGreaterThan(1900);
    const t = randnTensor(createGenerator(42), [2, 1000]);
    expect(countDifferent(t.dataSync(), a)).toBe(0);
    t.dispose();
  });
});

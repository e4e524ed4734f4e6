import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guidedLatentSample, guidedPrediction, loadPipeline, PerImageNoise, runDiffusion, type SamplingPipeline } from '../../src/ml/pipeline';
import { controlNetDenoiser, sampleUnconditional, translateSlices } from '../../src/ml/sample/sampler';
import { REFERENCE_SCHEDULER } from '../../src/ml/train/config';
import { flairBatch, openTinyPipeline, TINY_SIZE, writeTinyPipeline } from './fixtures';

const [H, W] = TINY_SIZE;
let dir: string;
let pipeline: SamplingPipeline;
let closeTiny: (() => void) | undefined;

beforeAll(async () => {
  ({ dir, pipeline, close: closeTiny } = await openTinyPipeline('bs-sample-'));
});

afterAll(() => closeTiny?.());

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('loadPipeline', () => {
  it('reads the trained settings from the checkpoints', () => {
    expect(pipeline.info.imageSize).toEqual([40, 56]);
    expect(pipeline.info.latentScale).toBeCloseTo(0.5, 6);
    expect(pipeline.info.scheduler.predictionType).toBe('v_prediction');
    expect(pipeline.info.conditioningScale).toBe(1);
    // a desktop run recorded before the brain-mask setting existed masks
    expect(pipeline.info.brainMask).toBe(true);
    expect(pipeline.controlnet).not.toBeNull();
  });

  it("defaults to the run's sampling conditioning scale, and to its training scale for runs recorded before that", () => {
    const root = mkdtempSync(join(tmpdir(), 'bs-sample-scale-'));
    try {
      const dirs = { autoencoder: join(root, 'ae'), ldm: join(root, 'ldm'), controlnet: join(root, 'cn') };
      writeTinyPipeline(dirs, 7, { conditioningScale: 1, sampleConditioningScale: 1.5, sampleBrainMask: false });
      const p = loadPipeline(dirs);
      expect(p.info.conditioningScale).toBe(1.5);
      expect(p.info.brainMask).toBe(false);
      p.dispose();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('names the folder when a source has no checkpoint', () => {
    expect(() => loadPipeline({ autoencoder: join(dir, 'ae'), ldm: join(dir, 'nowhere'), controlnet: join(dir, 'cn') })).toThrow(/ldm: .*nowhere does not exist/);
    expect(() => loadPipeline({ autoencoder: join(dir, 'ldm'), ldm: join(dir, 'ldm') })).toThrow(/expected a autoencoder checkpoint, found stage 'ldm'/);
  });
});

describe('ControlNet-guided sampling', () => {
  const flair = flairBatch(2, H, W);

  it('same seed gives bitwise identical output, in [0, 1]', async () => {
    const a = await translateSlices(pipeline, flair, { seeds: [3, 4], steps: 3 });
    const b = await translateSlices(pipeline, flair, { seeds: [3, 4], steps: 3 });
    expect(a.length).toBe(2 * H * W);
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...a)).toBeLessThanOrEqual(1);
  });

  it('different seeds give different output, and each image depends only on its own seed', async () => {
    const a = await translateSlices(pipeline, flair, { seeds: [3, 4], steps: 3 });
    const c = await translateSlices(pipeline, flair, { seeds: [5, 4], steps: 3 });
    expect(maxAbsDiff(a.subarray(0, H * W), c.subarray(0, H * W))).toBeGreaterThan(1e-4);
    // image 1 had the same seed and FLAIR in both batches
    expect(maxAbsDiff(a.subarray(H * W), c.subarray(H * W))).toBeLessThan(1e-5);
  });

  it('the FLAIR condition changes the result', async () => {
    const other = flairBatch(2, H, W, 1.5);
    const a = await translateSlices(pipeline, flair, { seeds: [3, 4], steps: 3 });
    const b = await translateSlices(pipeline, other, { seeds: [3, 4], steps: 3 });
    expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-4);
  });

  it('DDPM and DDIM with eta > 0 are seeded too', async () => {
    const a = await translateSlices(pipeline, flair, { seeds: [1, 2], steps: 4, sampler: 'ddpm' });
    const b = await translateSlices(pipeline, flair, { seeds: [1, 2], steps: 4, sampler: 'ddpm' });
    expect(maxAbsDiff(a, b)).toBe(0);
    const c = await translateSlices(pipeline, flair, { seeds: [1, 2], steps: 3, eta: 1 });
    const d = await translateSlices(pipeline, flair, { seeds: [1, 2], steps: 3, eta: 1 });
    expect(maxAbsDiff(c, d)).toBe(0);
  });

  it('reports progress per step and refuses a bad step count', async () => {
    const seen: number[] = [];
    await translateSlices(pipeline, flair, { seeds: [1, 2], steps: 2, onStep: (d) => seen.push(d) });
    expect(seen).toEqual([1, 2]);
    await expect(translateSlices(pipeline, flair, { seeds: [1, 2], steps: 0 })).rejects.toThrow(/steps must be an integer from 1 to 1000/);
    await expect(translateSlices(pipeline, flair, { seeds: [1], steps: 2 })).rejects.toThrow(/not 1 slices of 40x56/);
  });

  it('does not leak tensors', async () => {
    const before = tf.memory().numTensors;
    await translateSlices(pipeline, flair, { seeds: [1, 2], steps: 2 });
    await sampleUnconditional(pipeline, { seeds: [1], steps: 2 });
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('classifier-free guidance', () => {
  it('uncond + s * (cond - uncond), elementwise', () => {
    const u = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    const c = tf.tensor4d([2, 0, 3, 8], [1, 2, 2, 1]);
    const g = guidedPrediction(u, c, 7);
    expect(Array.from(g.dataSync())).toEqual([8, -12, 3, 32]);
    tf.dispose([u, c, g]);
  });

  it('the guided denoiser equals a direct computation with residuals on both branches', async () => {
    const flair = tf.tensor4d(flairBatch(1, H, W), [1, H, W, 1]);
    const noise = new PerImageNoise([9]);
    const x = noise.tensor([1, 20, 28, 3]);
    const t = 500;
    const guided = controlNetDenoiser(pipeline, flair, 7, 0.8);
    const d = guided.denoise;
    const out = typeof d === 'function' ? d(x, t) : await d.native(x, t);
    const direct = tf.tidy(() => {
      const ts = tf.tensor1d([t], 'int32');
      const branch = (kind: 'prompt' | 'null_infer') => {
        const ctx = pipeline.context.repeat(kind, 1);
        const res = pipeline.controlnet!.forward(x, ts, ctx, flair, 0.8);
        return pipeline.unet.forward(x, ts, ctx, res);
      };
      const u = branch('null_infer');
      const c = branch('prompt');
      return tf.add(u, tf.mul(tf.sub(c, u), 7));
    });
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(out, direct))).dataSync()[0]!);
    const scale = tf.tidy(() => tf.max(tf.abs(direct)).dataSync()[0]!);
    expect(scale).toBeGreaterThan(1e-3);
    expect(diff / scale).toBeLessThan(1e-5);
    guided.dispose();
    tf.dispose([flair, x, out, direct]);
  });
});

describe('guidedLatentSample (for callers with their own denoiser)', () => {
  it('equals the scheduler loop over a directly computed guided output', async () => {
    // A context-dependent stand-in for a network: out = x * mean(context row) + t / 1000.
    const net = (x: tf.Tensor4D, t: number, ctx: tf.Tensor3D) =>
      tf.tidy(() => tf.add(tf.mul(x, tf.reshape(tf.mean(ctx, [1, 2]), [-1, 1, 1, 1])), t / 1000) as tf.Tensor4D);
    const cond = tf.fill([2, 3, 4], 0.5) as tf.Tensor3D;
    const uncond = tf.fill([2, 3, 4], -0.25) as tf.Tensor3D;
    const shape: [number, number, number, number] = [2, 4, 6, 3];
    const a = await guidedLatentSample(net, { scheduler: REFERENCE_SCHEDULER, steps: 5, shape, cond, uncond, guidanceScale: 3, seeds: [1, 2] });
    const b = await runDiffusion((x, t) => tf.tidy(() => guidedPrediction(net(x, t, uncond), net(x, t, cond), 3)), {
      scheduler: REFERENCE_SCHEDULER,
      sampler: 'ddim',
      steps: 5,
      eta: 0,
      shape,
      noise: new PerImageNoise([1, 2]),
    });
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
    expect(diff).toBeLessThan(1e-6);
    tf.dispose([cond, uncond, a, b]);
  });
});

describe('unconditional LDM sampling', () => {
  it('is seeded and needs no ControlNet', async () => {
    const ldmOnly = loadPipeline({ autoencoder: join(dir, 'ae'), ldm: join(dir, 'ldm') });
    try {
      expect(ldmOnly.controlnet).toBeNull();
      const a = await sampleUnconditional(ldmOnly, { seeds: [0, 1], steps: 3 });
      const b = await sampleUnconditional(ldmOnly, { seeds: [0, 1], steps: 3 });
      expect(maxAbsDiff(a, b)).toBe(0);
      expect(maxAbsDiff(a.subarray(0, H * W), a.subarray(H * W))).toBeGreaterThan(1e-4);
      await expect(translateSlices(ldmOnly, flairBatch(1, H, W), { seeds: [0], steps: 2 })).rejects.toThrow(/no ControlNet/);
    } finally {
      ldmOnly.dispose();
    }
  });
});

import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../src/ml/engine';
import { checkpointDir, loadCheckpoint, readCheckpointMeta } from '../../src/ml/pipeline/checkpoint';
import type { TrainConfig } from '../../src/ml/train/config';
import type { TrainingData } from '../../src/ml/train/data';
import { createRuntime } from '../../src/ml/train/run';
import { NonFiniteLossError, runSession, type MetricOut, type TrainHooks } from '../../src/ml/train/session';
import { syntheticData, tinyConfig } from './fixtures';

/**
 * Every stage trains on small synthetic slices: its loss goes down, tensors do not leak, and the
 * whole chain AE -> LDM -> ControlNet hands checkpoints from parent to child.
 */
let root: string;
const data: TrainingData = syntheticData(20, 28, 12, 4);

beforeAll(async () => {
  await initEngine({ backend: 'wasm' });
  root = mkdtempSync(join(tmpdir(), 'bs-train-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Trained {
  runDir: string;
  train: MetricOut[];
  validation: MetricOut[];
  tensorsPerStep: number[];
}

async function train(name: string, config: TrainConfig, parents: { autoencoder?: string; ldm?: string } = {}, hooks: TrainHooks = {}): Promise<Trained> {
  const runDir = join(root, name);
  const out: Trained = { runDir, train: [], validation: [], tensorsPerStep: [] };
  const runtime = await createRuntime({ config, parents }, data);
  try {
    await runSession(
      runtime,
      { runDir, loop: config.loop, data, config: config as unknown as Record<string, unknown>, resume: false },
      {
        metrics: (points) => {
          for (const p of points) (p.split === 'train' ? out.train : out.validation).push(p);
        },
        progress: (p) => {
          if (p.phase === 'training') out.tensorsPerStep.push(p.memory.tensors);
        },
        ...hooks,
      },
    );
  } finally {
    runtime.dispose();
  }
  return out;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const lossSeries = (t: Trained, name = 'loss') => t.train.filter((m) => m.name === name).map((m) => m.value);

describe('stage trainers on synthetic slices', () => {
  let ae: Trained;
  let ldm: Trained;

  it('autoencoder: L1 reconstruction loss decreases, adversarial terms start at advStartEpoch, memory flat', async () => {
    const before = tf.memory().numTensors;
    ae = await train('ae', tinyConfig('autoencoder', { epochs: 3, maxStepsPerEpoch: 3, batchSize: 4 }));
    const l1 = lossSeries(ae, 'l1_loss');
    expect(l1).toHaveLength(9);
    expect(mean(l1.slice(-3))).toBeLessThan(mean(l1.slice(0, 3)));
    // adversarial terms only from epoch 1 (advStartEpoch) on
    expect(ae.train.filter((m) => m.name === 'g_loss').every((m) => m.epoch >= 1)).toBe(true);
    expect(ae.train.some((m) => m.name === 'd_loss')).toBe(true);
    // after the first adversarial step creates the discriminator's moments, the count stays flat
    expect(new Set(ae.tensorsPerStep.slice(4)).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
    expect(ae.validation.filter((m) => m.name === 'l1_loss')).toHaveLength(3);
    const meta = readCheckpointMeta(checkpointDir(ae.runDir, 'last')!);
    expect(meta.step).toBe(9);
    expect(checkpointDir(ae.runDir, 'best')).not.toBeNull();
  });

  it('ldm: v-prediction loss decreases on the frozen autoencoder latents', async () => {
    ldm = await train('ldm', tinyConfig('ldm', { epochs: 3, maxStepsPerEpoch: 3, batchSize: 4 }), { autoencoder: ae.runDir });
    const loss = lossSeries(ldm);
    expect(loss).toHaveLength(9);
    expect(mean(loss.slice(-3))).toBeLessThan(mean(loss.slice(0, 3)));
    expect(new Set(ldm.tensorsPerStep.slice(1)).size).toBe(1);
    const dir = checkpointDir(ldm.runDir, 'last')!;
    // the learned context is saved in the user-suppliable format
    expect(readFileSync(join(dir, 'context.safetensors')).byteLength).toBeGreaterThan(0);
    expect(readFileSync(join(ldm.runDir, 'images', 'samples-step0000009.png')).subarray(1, 4).toString()).toBe('PNG');
  });

  it('controlnet: initialised from the LDM UNet, loss decreases, writes FLAIR | generated | real figures (masked to the brain, as it samples)', async () => {
    const cfg = tinyConfig('controlnet', { epochs: 3, maxStepsPerEpoch: 3, batchSize: 4 });
    cfg.controlnet!.sampleBrainMask = true;
    const cn = await train('cn', cfg, { autoencoder: ae.runDir, ldm: ldm.runDir });
    const loss = lossSeries(cn);
    expect(loss).toHaveLength(9);
    expect(mean(loss.slice(-3))).toBeLessThan(mean(loss.slice(0, 3)));
    expect(new Set(cn.tensorsPerStep.slice(1)).size).toBe(1);
    expect(readFileSync(join(cn.runDir, 'images', 'flair-generated-real-step0000009.png')).subarray(1, 4).toString()).toBe('PNG');
  });

  it('a weight average (emaDecay): checkpoints hold the average, the state the trained weights, and a resumed run goes on exactly', async () => {
    const cfg = tinyConfig('controlnet', { epochs: 2, maxStepsPerEpoch: 3, batchSize: 4, checkpointEvery: 2, valEvery: 1 });
    cfg.controlnet!.emaDecay = 0.9;
    const parents = { autoencoder: ae.runDir, ldm: ldm.runDir };
    const straight = await train('ema-straight', cfg, parents);
    expect(new Set(straight.tensorsPerStep.slice(1)).size).toBe(1);
    const last = loadCheckpoint(checkpointDir(straight.runDir, 'last')!);
    expect(last.state.get('trained.__updates__')!.data[0]).toBe(6);
    // The state keeps the trained weights in the variables' layout (as the optimiser's moments), the
    // model file MONAI's: compare each tensor's sorted values, which a transpose keeps.
    const sorted = (d: Float32Array) => Array.from(d).sort((a, b) => a - b);
    let differs = 0;
    for (const [name, t] of last.model) {
      const trained = last.state.get(`trained.${name}`);
      expect(trained?.data.length, name).toBe(t.data.length);
      const a = sorted(trained!.data);
      if (sorted(t.data).some((v, i) => Math.abs(v - a[i]!) > 1e-7)) differs += 1;
    }
    expect(differs).toBeGreaterThan(0);

    // Crash after step 3 (last checkpoint: step 2), resume: the same losses as the straight run.
    const crashDir = 'ema-crashed';
    const crash = await train(crashDir, cfg, parents, {
      metrics: (p) => {
        if (p.some((m) => m.step === 3 && m.split === 'train')) throw new Error('simulated crash');
      },
    }).catch((e: Error) => e);
    expect((crash as Error).message).toBe('simulated crash');
    const resumed: MetricOut[] = [];
    const runtime = await createRuntime({ config: cfg, parents }, data);
    try {
      await runSession(
        runtime,
        { runDir: join(root, crashDir), loop: cfg.loop, data, config: cfg as unknown as Record<string, unknown>, resume: true },
        { metrics: (p) => resumed.push(...p) },
      );
    } finally {
      runtime.dispose();
    }
    const reference = new Map([...straight.train, ...straight.validation].map((m) => [`${m.split}/${m.name}@${m.step}`, m.value]));
    expect(resumed.length).toBeGreaterThan(0);
    for (const m of resumed) expect(m.value, `${m.split}/${m.name}@${m.step}`).toBeCloseTo(reference.get(`${m.split}/${m.name}@${m.step}`)!, 5);
  });

  it('the same seed reproduces the same losses; another seed does not', async () => {
    const cfg = tinyConfig('autoencoder', { epochs: 1, maxStepsPerEpoch: 3, batchSize: 4, valEvery: 0 });
    const a = await train('seed-a', cfg);
    const b = await train('seed-b', cfg);
    const c = await train('seed-c', { ...cfg, loop: { ...cfg.loop, seed: 7 } });
    expect(lossSeries(b)).toEqual(lossSeries(a));
    expect(lossSeries(c)).not.toEqual(lossSeries(a));
  });

  it('a loss that becomes NaN/Inf stops the run before the update and keeps the last good checkpoint', async () => {
    // A checkpoint after every step; lr 1e30 makes step 1's update explode, so step 2's loss is not finite.
    const cfg = tinyConfig('ldm', { epochs: 3, maxStepsPerEpoch: 3, batchSize: 4, checkpointEvery: 1, valEvery: 0 });
    cfg.ldm!.lr = 1e30;
    const runDir = join(root, 'nan');
    const err = await train('nan', cfg, { autoencoder: ae.runDir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NonFiniteLossError);
    const e = err as NonFiniteLossError;
    expect(e.message).toMatch(/loss 'loss' became (NaN|Infinity|-Infinity) at step \d+/);
    expect(e.message).toMatch(/last good checkpoint \(step \d+\) is kept/);
    const last = loadCheckpoint(checkpointDir(runDir, 'last')!);
    expect(last.meta.step).toBe(e.step - 1);
    expect(e.lastCheckpointStep).toBe(last.meta.step);
    for (const [, t] of last.model) expect(t.data.every((v) => Number.isFinite(v))).toBe(true);
  });
});

import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../src/ml/engine';
import { checkpointDir, checkpointsDir, loadCheckpoint, promoteCheckpoint, writeCheckpoint } from '../../src/ml/pipeline/checkpoint';
import type { TrainConfig } from '../../src/ml/train/config';
import { createRuntime } from '../../src/ml/train/run';
import { runSession, type MetricOut, type TrainHooks } from '../../src/ml/train/session';
import { Rng } from '../../src/ml/util/rng';
import { syntheticData, tinyConfig } from './fixtures';

let root: string;
const data = syntheticData(20, 28, 12, 4);

beforeAll(async () => {
  await initEngine({ backend: 'wasm' });
  root = mkdtempSync(join(tmpdir(), 'bs-resume-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function session(runDir: string, config: TrainConfig, resume: boolean, hooks: TrainHooks) {
  const runtime = await createRuntime({ config, parents: {} }, data);
  try {
    return await runSession(runtime, { runDir, loop: config.loop, data, config: config as unknown as Record<string, unknown>, resume }, hooks);
  } finally {
    runtime.dispose();
  }
}

const key = (m: MetricOut) => `${m.split}/${m.name}@${m.step}`;

describe('checkpoints and resume', () => {
  // Two epochs of 3 steps with the adversarial terms from epoch 1: resume must restore both
  // networks, both optimisers, BatchNorm running statistics and the RNG stream.
  const config = tinyConfig('autoencoder', { epochs: 2, maxStepsPerEpoch: 3, batchSize: 4, checkpointEvery: 2, valEvery: 1 });

  it('resumes after a crash exactly: same step numbers, same values, nothing duplicated', async () => {
    const reference: MetricOut[] = [];
    await session(join(root, 'straight'), config, false, { metrics: (p) => reference.push(...p) });

    // "Crash" right after step 3 was logged; the last checkpoint is step 2.
    const crashed: MetricOut[] = [];
    const runDir = join(root, 'crashed');
    const crash = await session(runDir, config, false, {
      metrics: (p) => {
        crashed.push(...p);
        if (p.some((m) => m.step === 3 && m.split === 'train')) throw new Error('simulated crash');
      },
    }).catch((e: Error) => e);
    expect((crash as Error).message).toBe('simulated crash');
    const ckpt = loadCheckpoint(checkpointDir(runDir, 'last')!);
    expect(ckpt.meta.step).toBe(2);

    // What the store would keep after deleteAfter(step 2), then the resumed session's output.
    const kept = crashed.filter((m) => m.step <= ckpt.meta.step);
    const resumed: MetricOut[] = [];
    const result = await session(runDir, config, true, { metrics: (p) => resumed.push(...p) });
    expect(result.status).toBe('completed');
    expect(result.step).toBe(6);
    expect(Math.min(...resumed.map((m) => m.step))).toBe(3);
    const combined = [...kept, ...resumed];
    expect(new Set(combined.map(key)).size).toBe(combined.length);
    const byKey = new Map(reference.map((m) => [key(m), m.value]));
    expect(combined.map(key).sort()).toEqual([...byKey.keys()].sort());
    for (const m of combined) expect(m.value).toBeCloseTo(byKey.get(key(m))!, 5);
  });

  it('cancel writes a checkpoint at the current step and resume finishes the run identically', async () => {
    const reference: MetricOut[] = [];
    await session(join(root, 'straight2'), config, false, { metrics: (p) => reference.push(...p) });
    const runDir = join(root, 'cancelled');
    let steps = 0;
    const first = await session(runDir, config, false, {
      metrics: (p) => void (steps = Math.max(steps, ...p.map((m) => m.step))),
      shouldStop: () => steps >= 4,
    });
    expect(first.status).toBe('cancelled');
    expect(loadCheckpoint(checkpointDir(runDir, 'last')!).meta.step).toBe(4);
    const resumed: MetricOut[] = [];
    const second = await session(runDir, config, true, { metrics: (p) => resumed.push(...p) });
    expect(second.status).toBe('completed');
    const byKey = new Map(reference.map((m) => [key(m), m.value]));
    expect(resumed.length).toBeGreaterThan(0);
    for (const m of resumed) {
      expect(m.step).toBeGreaterThan(4);
      expect(m.value).toBeCloseTo(byKey.get(key(m))!, 5);
    }
  });

  it('keeps only the folders that "last" and "best" point at, and detects damaged files', () => {
    const runDir = join(root, 'files');
    const sd = new Map([['w', { shape: [2], data: Float32Array.of(1, 2) }]]);
    const meta = (step: number) => ({
      stage: 'autoencoder',
      step,
      epoch: 0,
      stepInEpoch: step,
      rng: Rng.fromSeed(1).getState(),
      bestValLoss: null,
      lastValLoss: null,
      config: {},
    });
    promoteCheckpoint(runDir, writeCheckpoint(runDir, { model: sd, state: new Map(), meta: meta(1) }), ['last', 'best']);
    promoteCheckpoint(runDir, writeCheckpoint(runDir, { model: sd, state: new Map(), meta: meta(2) }), ['last']);
    promoteCheckpoint(runDir, writeCheckpoint(runDir, { model: sd, state: new Map(), meta: meta(3) }), ['last']);
    const folders = readdirSync(checkpointsDir(runDir)).filter((f) => f.startsWith('step-')).sort();
    expect(folders).toEqual(['step-00000001', 'step-00000003']);
    expect(loadCheckpoint(checkpointDir(runDir, 'best')!).meta.step).toBe(1);
    const last = checkpointDir(runDir, 'last')!;
    writeFileSync(join(last, 'model.safetensors'), 'garbage');
    expect(() => loadCheckpoint(last)).toThrow(/model\.safetensors: checksum mismatch/);
    expect(existsSync(join(checkpointsDir(runDir), 'last.json'))).toBe(true);
  });
});

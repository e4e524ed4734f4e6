/**
 * Training throughput of the desktop presets through the real stage trainers (augmentation,
 * losses, clipping, Adam/AdamW, frozen parents), on synthetic 80x112 slices: per-step time and the
 * optimiser steps a stage's default time budget buys (budgetMinutes of CPU time over the step time;
 * validation and checkpoints not counted, so an upper bound). Without a budget, the projected time
 * of the epoch cap (epochs x maxStepsPerEpoch steps), target 15 minutes.
 *
 * Times for wasm/cpu are process CPU time (single-threaded backends), which stays meaningful on a
 * shared machine; wall-clock medians are kept in each result's detail.
 *
 * `npm run bench -- train`. Env: BENCH_BACKEND=wasm  BENCH_STEPS=3.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initEngine, type BackendName } from '../src/ml/engine';
import { defaultLoop, type TrainConfig } from '../src/ml/train/config';
import { promoteCheckpoint, writeCheckpoint } from '../src/ml/pipeline/checkpoint';
import type { SliceSet, TrainingData } from '../src/ml/train/data';
import { createRuntime } from '../src/ml/train/run';
import type { StageRuntime } from '../src/ml/train/session';
import { buildTrainConfig, type ParentRunInfo } from '../src/ml/train/validate';
import { Rng } from '../src/ml/util/rng';
import type { BenchResult } from './_common';

const STEPS = Number(process.env.BENCH_STEPS ?? 3);
const BACKEND = (process.env.BENCH_BACKEND ?? 'wasm') as BackendName;

function slices(count: number, h: number, w: number, seed: number): SliceSet {
  const rng = Rng.fromSeed(seed);
  const px = h * w;
  const t1w = new Float32Array(count * px);
  const flair = new Float32Array(count * px);
  for (let n = 0; n < count; n++) {
    const cy = h / 2 + rng.range(-3, 3);
    const cx = w / 2 + rng.range(-3, 3);
    for (let r = 0; r < h; r++) {
      for (let c = 0; c < w; c++) {
        const d = ((r - cy) / (h * 0.38)) ** 2 + ((c - cx) / (w * 0.38)) ** 2;
        const inside = 1 / (1 + Math.exp((d - 1) * 12));
        t1w[n * px + r * w + c] = inside * (0.7 - 0.3 * Math.exp(-d * 3));
        flair[n * px + r * w + c] = inside * (0.4 + 0.2 * d);
      }
    }
  }
  return { count, height: h, width: w, t1w, flair };
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timeSteps(runtime: StageRuntime, batch: number, epoch: number): Promise<{ cpu: number; wall: number }> {
  const rng = Rng.fromSeed(1);
  const idx = Array.from({ length: batch }, (_, i) => i);
  await runtime.trainStep(idx, epoch, 1, rng); // warm-up (kernels, optimiser moments)
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < STEPS; i++) {
    const c0 = cpuMs();
    const w0 = performance.now();
    await runtime.trainStep(idx, epoch, i + 2, rng);
    cpu.push(cpuMs() - c0);
    wall.push(performance.now() - w0);
  }
  return { cpu: median(cpu), wall: median(wall) };
}

/** Saves a runtime's weights as a parent checkpoint so the next stage can load it. */
async function saveAsParent(runtime: StageRuntime, runDir: string, config: TrainConfig): Promise<ParentRunInfo> {
  const payload = await runtime.checkpointPayload();
  const written = writeCheckpoint(runDir, {
    ...payload,
    meta: { stage: config.stage, step: 1, epoch: 1, stepInEpoch: 0, rng: Rng.fromSeed(0).getState(), bestValLoss: null, lastValLoss: null, config: config as unknown as Record<string, unknown> },
  });
  promoteCheckpoint(runDir, written, ['last']);
  return { runId: 1, stage: config.stage, status: 'completed', config, hasCheckpoint: true, runDir, parentDirs: {} };
}

export default async function trainBench(): Promise<{ description: string; results: BenchResult[] }> {
  await initEngine({ backend: BACKEND });
  const root = mkdtempSync(join(tmpdir(), 'bs-bench-train-'));
  const data: TrainingData = { train: slices(16, 80, 112, 1), validation: slices(4, 80, 112, 2), description: 'synthetic 80x112' };
  const results: BenchResult[] = [];
  try {
    const aeConfig = buildTrainConfig({ stage: 'autoencoder', preset: 'desktop', overrides: [] });
    const ldmDirs: { autoencoder?: string; ldm?: string } = {};
    let parent: ParentRunInfo | undefined;
    for (const stage of ['autoencoder', 'ldm', 'controlnet'] as const) {
      const config = stage === 'autoencoder' ? aeConfig : buildTrainConfig({ stage, preset: 'desktop', overrides: [], parent });
      const runtime = await createRuntime({ config, parents: ldmDirs }, data);
      const loop = defaultLoop(stage, 'desktop');
      const capSteps = loop.epochs * loop.maxStepsPerEpoch;
      // The autoencoder is timed with its adversarial terms on (the costlier part of its run).
      const t = await timeSteps(runtime, config.loop.batchSize, stage === 'autoencoder' ? config.autoencoder!.advStartEpoch : 0);
      const budget = loop.budgetMinutes ?? null;
      const runSteps = budget !== null ? Math.min(capSteps, Math.floor((budget * 60_000) / t.cpu)) : capSteps;
      const projectedMin = (t.cpu * runSteps) / 60_000;
      const detail = { backend: BACKEND, batch: config.loop.batchSize, imageSize: config.imageSize, stepWallMs: t.wall, runSteps, budgetMinutes: budget, tensors: tf.memory().numTensors };
      results.push({ case: `${BACKEND} ${stage} desktop train step`, value: t.cpu, unit: 'ms', detail });
      if (budget !== null) {
        results.push({ case: `${BACKEND} ${stage} desktop steps in the default budget`, value: runSteps, unit: 'steps', detail });
      } else {
        results.push({ case: `${BACKEND} ${stage} desktop default run (projected)`, value: projectedMin, unit: 'min', target: { op: '<=', value: 15 }, detail });
      }
      process.stdout.write(
        `[train bench] ${stage}: step ${t.cpu.toFixed(0)} ms CPU (${t.wall.toFixed(0)} ms wall), default run ${runSteps} steps ~ ${projectedMin.toFixed(1)} min` +
          (budget !== null ? ` (budget ${budget} min)` : '') +
          '\n',
      );
      const dir = join(root, stage);
      parent = await saveAsParent(runtime, dir, config);
      if (stage === 'autoencoder') ldmDirs.autoencoder = dir;
      if (stage === 'ldm') ldmDirs.ldm = dir;
      runtime.dispose();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return { description: `desktop-preset training steps through the stage trainers (${BACKEND}, synthetic 80x112 slices)`, results };
}

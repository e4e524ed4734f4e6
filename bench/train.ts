/**
 * Training throughput of the desktop presets through the real stage trainers (augmentation,
 * losses, clipping, Adam/AdamW, frozen parents), on synthetic 80x112 slices: per-step time and the
 * optimiser steps a stage's default time budget buys (budgetMinutes of CPU time over the step time;
 * validation and checkpoints not counted, so an upper bound). Without a budget, the projected time
 * of the epoch cap (epochs x maxStepsPerEpoch steps), target 15 minutes.
 *
 * Times for wasm/cpu are process CPU time (of all its threads), which stays meaningful on a
 * shared machine; wall-clock medians are kept in each result's detail.
 *
 * `npm run bench -- train`. Env: BENCH_BACKEND=wasm  BENCH_STEPS=3.
 */
import * as tf from '@tensorflow/tfjs';
import { initEngine, type BackendName } from '../src/ml/engine';
import { defaultLoop } from '../src/ml/train/config';
import type { BenchResult } from './_common';
import { forEachDesktopStage, syntheticTrainingData, timedEpoch, timeSteps } from './_stages';

const STEPS = Number(process.env.BENCH_STEPS ?? 3);
const BACKEND = (process.env.BENCH_BACKEND ?? 'wasm') as BackendName;

export default async function trainBench(): Promise<{ description: string; results: BenchResult[] }> {
  await initEngine({ backend: BACKEND });
  const results: BenchResult[] = [];
  await forEachDesktopStage(syntheticTrainingData(), async (stage, config, runtime) => {
    const loop = defaultLoop(stage, 'desktop');
    const capSteps = loop.epochs * loop.maxStepsPerEpoch;
    const t = await timeSteps(runtime, config.loop.batchSize, timedEpoch(config), STEPS);
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
  });
  return { description: `desktop-preset training steps through the stage trainers (${BACKEND}, synthetic 80x112 slices)`, results };
}

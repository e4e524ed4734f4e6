/**
 * The desktop pipeline's three stage trainers on synthetic 80x112 slices, for benches that time
 * real training steps (augmentation, losses, clipping, Adam/AdamW, frozen parents): each stage
 * is built on the previous one's weights, as a run is on its parent's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promoteCheckpoint, writeCheckpoint } from '../src/ml/pipeline/checkpoint';
import type { TrainConfig } from '../src/ml/train/config';
import type { SliceSet, TrainingData } from '../src/ml/train/data';
import { createRuntime } from '../src/ml/train/run';
import type { StageRuntime } from '../src/ml/train/session';
import { buildTrainConfig, type ParentRunInfo } from '../src/ml/train/validate';
import { Rng } from '../src/ml/util/rng';

export const STAGES = ['autoencoder', 'ldm', 'controlnet'] as const;
export type Stage = (typeof STAGES)[number];

/** Brain-like ellipses (a dark rim inside a bright disc): enough structure for real losses. */
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

export function syntheticTrainingData(): TrainingData {
  return { train: slices(16, 80, 112, 1), validation: slices(4, 80, 112, 2), description: 'synthetic 80x112' };
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Median process-CPU and wall milliseconds of `steps` train steps, after one warm-up step. */
export async function timeSteps(runtime: StageRuntime, batch: number, epoch: number, steps: number): Promise<{ cpu: number; wall: number }> {
  const rng = Rng.fromSeed(1);
  const idx = Array.from({ length: batch }, (_, i) => i);
  await runtime.trainStep(idx, epoch, 1, rng); // warm-up (kernels, optimiser moments)
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let i = 0; i < steps; i++) {
    const c0 = cpuMs();
    const w0 = performance.now();
    await runtime.trainStep(idx, epoch, i + 2, rng);
    cpu.push(cpuMs() - c0);
    wall.push(performance.now() - w0);
  }
  return { cpu: median(cpu), wall: median(wall) };
}

/** The epoch a stage's steps are timed at: the autoencoder's with its adversarial terms on (the costlier part of its run). */
export function timedEpoch(config: TrainConfig): number {
  return config.stage === 'autoencoder' ? config.autoencoder!.advStartEpoch : 0;
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

/**
 * Builds each desktop stage's runtime in turn (default config, the previous stage as parent),
 * hands it to `visit`, then saves it as the next stage's parent and disposes it.
 */
export async function forEachDesktopStage(data: TrainingData, visit: (stage: Stage, config: TrainConfig, runtime: StageRuntime) => Promise<void>): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'bs-bench-stages-'));
  const parents: { autoencoder?: string; ldm?: string } = {};
  let parent: ParentRunInfo | undefined;
  try {
    for (const stage of STAGES) {
      const config = buildTrainConfig({ stage, preset: 'desktop', overrides: [], parent });
      const runtime = await createRuntime({ config, parents }, data);
      try {
        await visit(stage, config, runtime);
        const dir = join(root, stage);
        parent = await saveAsParent(runtime, dir, config);
        if (stage !== 'controlnet') parents[stage] = dir;
      } finally {
        runtime.dispose();
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

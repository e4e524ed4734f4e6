import * as tf from '@tensorflow/tfjs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { StateDict } from '../io';
import { Rng } from '../util/rng';
import {
  checkpointDir,
  loadCheckpoint,
  promoteCheckpoint,
  repairCheckpoints,
  writeCheckpoint,
  type CheckpointKind,
  type LoadedCheckpoint,
} from '../pipeline/checkpoint';
import { batchCount, epochOrder, type TrainingData } from './data';
import { tileImages, uprightGray, writePng, type GrayImage } from '../io/png';

/**
 * The loop every stage shares: epochs over a seeded data order, one optimiser step per batch,
 * metrics and progress out through hooks, validation every few epochs, atomic checkpoints
 * ("last" every N steps and at epoch end, "best" by validation loss), NaN/Inf guard, cooperative
 * cancel, and exact resume (weights, optimiser moments, RNG state, step and epoch position).
 * Stage specifics (networks, losses) live behind StageRuntime.
 */

export type TrainStage = 'autoencoder' | 'ldm' | 'controlnet';

export interface LoopConfig {
  epochs: number;
  batchSize: number;
  seed: number;
  /** Write the "last" checkpoint every N optimiser steps (and always at epoch end). */
  checkpointEvery: number;
  /** Validate (and write validation images) every N epochs and after the last one. */
  valEvery: number;
  /** Validate once before the first step, as the reference does. */
  valAtStart: boolean;
  /** Cap on batches per epoch (0 = all); for quick runs. */
  maxStepsPerEpoch: number;
  /** Cap on validation batches (0 = all). */
  maxValBatches: number;
}

export interface MetricOut {
  step: number;
  epoch: number;
  split: 'train' | 'validation';
  name: string;
  value: number;
}

export interface TrainProgress {
  stage: TrainStage;
  phase: 'starting' | 'training' | 'validating' | 'checkpointing' | 'done';
  epoch: number;
  epochs: number;
  step: number;
  totalSteps: number;
  losses: Record<string, number>;
  stepsPerSecond: number | null;
  etaSeconds: number | null;
  memory: { tensors: number; bytes: number; rssBytes: number };
}

export interface CheckpointEvent {
  kinds: CheckpointKind[];
  dir: string;
  modelPath: string;
  sha256: string;
  step: number;
  epoch: number;
}

export interface ArtefactEvent {
  kind: 'image';
  path: string;
  step: number;
  meta: Record<string, unknown>;
}

export interface TrainHooks {
  metrics?(points: MetricOut[]): void;
  progress?(p: TrainProgress): void;
  /**
   * Called once the checkpoint's files are on disk and before it becomes the resume point:
   * resolve once everything reported up to it (metrics, artefacts) is stored, so a crash can
   * never leave a resume point past what was logged. A throw stops the run with the previous
   * checkpoint still the resume point.
   */
  checkpoint?(c: CheckpointEvent): void | Promise<void>;
  artefact?(a: ArtefactEvent): void;
  /** Polled before every step; true stops the run cleanly after writing a checkpoint. */
  shouldStop?(): boolean | Promise<boolean>;
  log?(message: string): void;
}

export interface TrainResult {
  status: 'completed' | 'cancelled';
  step: number;
  epoch: number;
  lastLosses: Record<string, number>;
  lastValLoss: number | null;
  bestValLoss: number | null;
  wallSeconds: number;
  stepsThisSession: number;
}

/** A loss went NaN/Inf: the run stops, the last good checkpoint stays as it was. */
export class NonFiniteLossError extends Error {
  constructor(
    readonly step: number,
    readonly lossName: string,
    readonly value: number,
    readonly lastCheckpointStep: number | null,
  ) {
    super(
      `loss '${lossName}' became ${value} at step ${step}; the run stopped before applying that update. ` +
        (lastCheckpointStep === null
          ? 'No checkpoint had been written yet.'
          : `The last good checkpoint (step ${lastCheckpointStep}) is kept. Resuming repeats the same computation; ` +
            'start a new run with a lower learning rate (--set <stage>.lr=...) or check the data.'),
    );
    this.name = 'NonFiniteLossError';
  }
}

export interface ValidationResult {
  /** The value tracked as "val loss" for best-checkpoint selection. */
  loss: number;
  metrics: Record<string, number>;
}

/** What a stage provides to the shared loop. */
export interface StageRuntime {
  readonly stage: TrainStage;
  /** One optimiser step; returns named loss values (already read back). Throws NonFinite via checkLosses. */
  trainStep(indices: number[], epoch: number, step: number, rng: Rng): Promise<Record<string, number>>;
  validate(epoch: number, rng: Rng): Promise<ValidationResult>;
  /** Validation figure rows (each row one example, columns e.g. input | output). */
  figures(epoch: number, rng: Rng): Promise<{ name: string; rows: GrayImage[][]; columns?: string[] } | null>;
  /** Everything needed to resume; `model` is the network this stage trains, in MONAI names. */
  checkpointPayload(): Promise<{ model: StateDict; state: StateDict; context?: StateDict }>;
  restore(ckpt: LoadedCheckpoint): void;
  dispose(): void;
}

export interface SessionOptions {
  runDir: string;
  loop: LoopConfig;
  data: TrainingData;
  /** Full config recorded in checkpoints (plain JSON). */
  config: Record<string, unknown>;
  resume: boolean;
}

/** Throws NonFiniteLossError if any value is NaN/Inf. */
export function checkLosses(losses: Record<string, number>, step: number, lastCheckpointStep: number | null): void {
  for (const [name, value] of Object.entries(losses)) {
    if (!Number.isFinite(value)) throw new NonFiniteLossError(step, name, value, lastCheckpointStep);
  }
}

function memorySnapshot(): TrainProgress['memory'] {
  const m = tf.memory();
  return { tensors: m.numTensors, bytes: m.numBytes, rssBytes: process.memoryUsage().rss };
}

/** Runs (or resumes) a stage to completion, cancellation or error. */
export async function runSession(runtime: StageRuntime, opts: SessionOptions, hooks: TrainHooks = {}): Promise<TrainResult> {
  const { loop, data, runDir } = opts;
  const t0 = Date.now();
  const imagesDir = join(runDir, 'images');
  mkdirSync(imagesDir, { recursive: true });
  const trainCount = data.train.count;
  if (trainCount === 0) throw new Error('the training split has no slices');
  const fullBatches = batchCount(trainCount, loop.batchSize);
  const stepsPerEpoch = loop.maxStepsPerEpoch > 0 ? Math.min(loop.maxStepsPerEpoch, fullBatches) : fullBatches;
  const totalSteps = stepsPerEpoch * loop.epochs;

  let step = 0;
  let epoch = 0;
  let stepInEpoch = 0;
  let rng = Rng.fromSeed(loop.seed);
  let bestValLoss: number | null = null;
  let lastValLoss: number | null = null;
  let lastCheckpointStep: number | null = null;
  let lastLosses: Record<string, number> = {};

  // A crash may have cut a promotion short or left a folder that never became a checkpoint.
  repairCheckpoints(runDir);
  if (opts.resume) {
    const dir = checkpointDir(runDir, 'last');
    if (!dir) throw new Error(`${runDir}: no checkpoint to resume from (the run stopped before its first checkpoint; start it again)`);
    const ckpt = loadCheckpoint(dir);
    runtime.restore(ckpt);
    step = ckpt.meta.step;
    epoch = ckpt.meta.epoch;
    stepInEpoch = ckpt.meta.stepInEpoch;
    rng = Rng.fromState(ckpt.meta.rng);
    bestValLoss = ckpt.meta.bestValLoss;
    lastValLoss = ckpt.meta.lastValLoss;
    lastCheckpointStep = step;
    hooks.log?.(`resuming at step ${step} (epoch ${epoch + 1}, batch ${stepInEpoch})`);
  }

  const emitProgress = (phase: TrainProgress['phase'], rate: number | null) => {
    hooks.progress?.({
      stage: runtime.stage,
      phase,
      epoch,
      epochs: loop.epochs,
      step,
      totalSteps,
      losses: lastLosses,
      stepsPerSecond: rate,
      etaSeconds: rate && rate > 0 ? (totalSteps - step) / rate : null,
      memory: memorySnapshot(),
    });
  };

  const saveCheckpoint = async (kinds: CheckpointKind[]) => {
    emitProgress('checkpointing', null);
    const payload = await runtime.checkpointPayload();
    const written = writeCheckpoint(runDir, {
      ...payload,
      meta: { stage: runtime.stage, step, epoch, stepInEpoch, rng: rng.getState(), bestValLoss, lastValLoss, kinds, config: opts.config },
    });
    await hooks.checkpoint?.({ kinds, dir: written.dir, modelPath: written.modelPath, sha256: written.sha256, step, epoch });
    promoteCheckpoint(runDir, written, kinds);
    lastCheckpointStep = step;
  };

  const validateAndFigures = async (): Promise<boolean> => {
    emitProgress('validating', null);
    // A fixed stream per validation (seeded by epoch) keeps validation noise comparable across epochs.
    const valRng = Rng.fromSeed(((loop.seed >>> 0) ^ 0x5bd1e995) + epoch);
    const val = await runtime.validate(epoch, valRng);
    const points: MetricOut[] = Object.entries(val.metrics).map(([name, value]) => ({ step, epoch, split: 'validation', name, value }));
    hooks.metrics?.(points);
    lastValLoss = val.loss;
    const improved = Number.isFinite(val.loss) && (bestValLoss === null || val.loss <= bestValLoss);
    if (improved) bestValLoss = val.loss;
    const fig = await runtime.figures(epoch, valRng);
    if (fig && fig.rows.length > 0) {
      const path = join(imagesDir, `${fig.name}-step${String(step).padStart(7, '0')}.png`);
      // Stored upright (as every view shows slices) with one labelled column per kind of image.
      writePng(path, tileImages(fig.rows.map((row) => row.map(uprightGray))));
      hooks.artefact?.({ kind: 'image', path, step, meta: { figure: fig.name, epoch, stage: runtime.stage, upright: true, columns: fig.columns ?? [] } });
    }
    return improved;
  };

  emitProgress('starting', null);
  if (!opts.resume && step === 0 && loop.valAtStart) await validateAndFigures();

  let sessionSteps = 0;
  let windowStart = Date.now();
  let windowSteps = 0;
  let rate: number | null = null;

  while (epoch < loop.epochs) {
    const order = epochOrder(trainCount, loop.seed, epoch, (s) => Rng.fromSeed(s));
    while (stepInEpoch < stepsPerEpoch) {
      if (hooks.shouldStop && (await hooks.shouldStop())) {
        if (lastCheckpointStep !== step) await saveCheckpoint(['last']);
        emitProgress('done', rate);
        return {
          status: 'cancelled',
          step,
          epoch,
          lastLosses,
          lastValLoss,
          bestValLoss,
          wallSeconds: (Date.now() - t0) / 1000,
          stepsThisSession: sessionSteps,
        };
      }
      const indices = order.slice(stepInEpoch * loop.batchSize, (stepInEpoch + 1) * loop.batchSize);
      const losses = await runtime.trainStep(indices, epoch, step + 1, rng);
      checkLosses(losses, step + 1, lastCheckpointStep);
      step += 1;
      stepInEpoch += 1;
      sessionSteps += 1;
      windowSteps += 1;
      lastLosses = losses;
      hooks.metrics?.(Object.entries(losses).map(([name, value]) => ({ step, epoch, split: 'train' as const, name, value })));
      const now = Date.now();
      if (now - windowStart >= 1000 || rate === null) {
        rate = (windowSteps * 1000) / Math.max(1, now - windowStart);
        windowStart = now;
        windowSteps = 0;
      }
      emitProgress('training', rate);
      // Tensor reads on cpu/wasm resolve as microtasks, so without this a whole run would never
      // let the event loop turn (timers, messages, RPC of whoever hosts the loop).
      await new Promise<void>((r) => setImmediate(r));
      if (loop.checkpointEvery > 0 && step % loop.checkpointEvery === 0 && stepInEpoch < stepsPerEpoch) await saveCheckpoint(['last']);
    }
    epoch += 1;
    stepInEpoch = 0;
    const validateNow = epoch === loop.epochs || (loop.valEvery > 0 && epoch % loop.valEvery === 0);
    const improved = validateNow ? await validateAndFigures() : false;
    await saveCheckpoint(improved ? ['last', 'best'] : ['last']);
  }
  emitProgress('done', rate);
  return {
    status: 'completed',
    step,
    epoch,
    lastLosses,
    lastValLoss,
    bestValLoss,
    wallSeconds: (Date.now() - t0) / 1000,
    stepsThisSession: sessionSteps,
  };
}

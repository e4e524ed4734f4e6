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
import {
  budgetSpent,
  MEASURE_STEPS,
  plateauStep,
  annealDone,
  annealOnPlateau,
  scheduledFactor,
  projectSteps,
  scheduleSettings,
  warmupSteps,
  type Anneal,
  type ScheduleSettings,
  type ScheduleState,
  type StopReason,
} from './schedule';

/**
 * The loop every stage shares: epochs over a seeded data order, one optimiser step per batch,
 * metrics and progress out through hooks, validation every few epochs, atomic checkpoints
 * ("last" every N steps and at epoch end, "best" by validation loss), NaN/Inf guard, cooperative
 * cancel, and exact resume (weights, optimiser moments, RNG state, step and epoch position,
 * budget used and learning-rate projection). A stage stops at its epoch cap, its step or time
 * budget, or a validation plateau (after annealing the rate), whichever comes first (see schedule.ts).
 * Stage specifics (networks, losses) live behind StageRuntime.
 */

export type TrainStage = 'autoencoder' | 'ldm' | 'controlnet';

/**
 * Budget, plateau and learning-rate schedule fields are optional so configs recorded before they
 * existed still load; missing ones mean fixed epochs at a constant learning rate.
 */
export interface LoopConfig extends Partial<ScheduleSettings> {
  /** The epoch cap (with a budget, the run usually stops earlier). */
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
  /** Why a completed run stopped; null when cancelled. */
  stopReason: StopReason | null;
  /** The budget and learning-rate schedule the run trained with, and where it ended. */
  schedule: ScheduleSummary;
}

export interface ScheduleSummary {
  settings: ScheduleSettings;
  /** Projected total steps at the end, and the warmup length that projection gives. */
  projectedSteps: number;
  warmupSteps: number;
  /** Learning-rate factor of the last optimiser step (1 = the configured rate). */
  lastLrFactor: number;
  /** Wall seconds over all sessions of the run (what a time budget counts). */
  elapsedSeconds: number;
  /** The closing anneal a plateau started, if one did. */
  anneal: Anneal | null;
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
  /** Scales every optimiser's learning rate to factor x its configured value. */
  setLrFactor(factor: number): void;
  dispose(): void;
}

export interface SessionOptions {
  runDir: string;
  loop: LoopConfig;
  data: TrainingData;
  /** Full config recorded in checkpoints (plain JSON). */
  config: Record<string, unknown>;
  resume: boolean;
  /** Milliseconds now, for the time budget; tests inject a clock that advances per step. */
  clock?: () => number;
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
  const clock = opts.clock ?? Date.now;
  const settings = scheduleSettings(loop);
  const t0 = clock();
  const imagesDir = join(runDir, 'images');
  mkdirSync(imagesDir, { recursive: true });
  const trainCount = data.train.count;
  if (trainCount === 0) throw new Error('the training split has no slices');
  const fullBatches = batchCount(trainCount, loop.batchSize);
  const stepsPerEpoch = loop.maxStepsPerEpoch > 0 ? Math.min(loop.maxStepsPerEpoch, fullBatches) : fullBatches;
  const capSteps = stepsPerEpoch * loop.epochs;

  let step = 0;
  let epoch = 0;
  let stepInEpoch = 0;
  let rng = Rng.fromSeed(loop.seed);
  let bestValLoss: number | null = null;
  let lastValLoss: number | null = null;
  let lastCheckpointStep: number | null = null;
  let lastLosses: Record<string, number> = {};
  const sched: ScheduleState = {
    elapsedSeconds: 0,
    projectedSteps: projectSteps(settings, { step: 0, capSteps, elapsedSeconds: 0, secondsPerStep: null }),
    plateauBest: null,
    sinceImprovement: 0,
    anneal: null,
  };
  let elapsedBefore = 0;

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
    if (ckpt.meta.schedule) Object.assign(sched, ckpt.meta.schedule);
    elapsedBefore = sched.elapsedSeconds;
    hooks.log?.(`resuming at step ${step} (epoch ${epoch + 1}, batch ${stepInEpoch})`);
  }

  const elapsed = () => elapsedBefore + (clock() - t0) / 1000;
  let lastFactor = scheduledFactor(settings, sched, step);

  // Before the first projection the step count is only the epoch cap; the time budget bounds the ETA.
  const etaSeconds = (rate: number | null): number | null => {
    const bySteps = rate && rate > 0 ? (sched.projectedSteps - step) / rate : null;
    if (settings.budgetMinutes === null) return bySteps;
    const left = Math.max(0, settings.budgetMinutes * 60 - elapsed());
    return bySteps === null ? left : Math.min(bySteps, left);
  };

  const emitProgress = (phase: TrainProgress['phase'], rate: number | null) => {
    hooks.progress?.({
      stage: runtime.stage,
      phase,
      epoch,
      epochs: loop.epochs,
      step,
      totalSteps: sched.projectedSteps,
      losses: lastLosses,
      stepsPerSecond: rate,
      etaSeconds: etaSeconds(rate),
      memory: memorySnapshot(),
    });
  };

  const saveCheckpoint = async (kinds: CheckpointKind[]) => {
    emitProgress('checkpointing', null);
    const payload = await runtime.checkpointPayload();
    sched.elapsedSeconds = elapsed();
    const written = writeCheckpoint(runDir, {
      ...payload,
      meta: {
        stage: runtime.stage,
        step,
        epoch,
        stepInEpoch,
        rng: rng.getState(),
        bestValLoss,
        lastValLoss,
        schedule: { ...sched },
        kinds,
        config: opts.config,
      },
    });
    await hooks.checkpoint?.({ kinds, dir: written.dir, modelPath: written.modelPath, sha256: written.sha256, step, epoch });
    promoteCheckpoint(runDir, written, kinds);
    lastCheckpointStep = step;
  };

  let lastValidatedStep: number | null = null;
  /** Validates and writes the figure; `improved` picks the best checkpoint, `plateau` ends the run (see below). */
  const validateAndFigures = async (): Promise<{ improved: boolean; plateau: boolean }> => {
    emitProgress('validating', null);
    // A fixed stream per validation (seeded by epoch) keeps validation noise comparable across epochs.
    const valRng = Rng.fromSeed(((loop.seed >>> 0) ^ 0x5bd1e995) + epoch);
    const val = await runtime.validate(epoch, valRng);
    const points: MetricOut[] = Object.entries(val.metrics).map(([name, value]) => ({ step, epoch, split: 'validation', name, value }));
    hooks.metrics?.(points);
    lastValLoss = val.loss;
    lastValidatedStep = step;
    const improved = Number.isFinite(val.loss) && (bestValLoss === null || val.loss <= bestValLoss);
    if (improved) bestValLoss = val.loss;
    const p = plateauStep(settings, sched, val.loss);
    sched.plateauBest = p.plateauBest;
    sched.sinceImprovement = p.sinceImprovement;
    const fig = await runtime.figures(epoch, valRng);
    if (fig && fig.rows.length > 0) {
      const path = join(imagesDir, `${fig.name}-step${String(step).padStart(7, '0')}.png`);
      // Stored upright (as every view shows slices) with one labelled column per kind of image.
      writePng(path, tileImages(fig.rows.map((row) => row.map(uprightGray))));
      hooks.artefact?.({ kind: 'image', path, step, meta: { figure: fig.name, epoch, stage: runtime.stage, upright: true, columns: fig.columns ?? [] } });
    }
    return { improved, plateau: p.stop };
  };

  let sessionSteps = 0;
  let windowStart = clock();
  let windowSteps = 0;
  let rate: number | null = null;

  const finish = (status: TrainResult['status'], stopReason: StopReason | null): TrainResult => {
    emitProgress('done', rate);
    return {
      status,
      step,
      epoch,
      lastLosses,
      lastValLoss,
      bestValLoss,
      wallSeconds: (clock() - t0) / 1000,
      stepsThisSession: sessionSteps,
      stopReason,
      schedule: {
        settings,
        projectedSteps: sched.projectedSteps,
        warmupSteps: warmupSteps(settings, sched.projectedSteps),
        lastLrFactor: lastFactor,
        elapsedSeconds: elapsed(),
        anneal: sched.anneal ?? null,
      },
    };
  };

  emitProgress('starting', null);
  if (!opts.resume && step === 0 && loop.valAtStart) await validateAndFigures();

  let stopReason: StopReason | null = null;
  training: while (epoch < loop.epochs) {
    const order = epochOrder(trainCount, loop.seed, epoch, (s) => Rng.fromSeed(s));
    while (stepInEpoch < stepsPerEpoch) {
      if (hooks.shouldStop && (await hooks.shouldStop())) {
        if (lastCheckpointStep !== step) await saveCheckpoint(['last']);
        return finish('cancelled', null);
      }
      if (budgetSpent(settings, step, elapsed())) {
        stopReason = 'budget';
        break training;
      }
      if (annealDone(sched, step)) {
        stopReason = 'plateau';
        break training;
      }
      lastFactor = scheduledFactor(settings, sched, step);
      runtime.setLrFactor(lastFactor);
      const indices = order.slice(stepInEpoch * loop.batchSize, (stepInEpoch + 1) * loop.batchSize);
      const losses = await runtime.trainStep(indices, epoch, step + 1, rng);
      checkLosses(losses, step + 1, lastCheckpointStep);
      step += 1;
      stepInEpoch += 1;
      sessionSteps += 1;
      windowSteps += 1;
      lastLosses = losses;
      const points: MetricOut[] = Object.entries(losses).map(([name, value]) => ({ step, epoch, split: 'train' as const, name, value }));
      // The factor each step used: with a time budget it depends on the measured speed, so the
      // run records it rather than leaving it to be recomputed.
      if (settings.lrSchedule !== 'constant') points.push({ step, epoch, split: 'train', name: 'lr_factor', value: lastFactor });
      hooks.metrics?.(points);
      const now = clock();
      if (now - windowStart >= 1000 || rate === null) {
        rate = (windowSteps * 1000) / Math.max(1, now - windowStart);
        windowStart = now;
        windowSteps = 0;
      }
      // Re-project from the measured time per step (validation and checkpoints included), first
      // after a few steps, then every ten.
      if (settings.budgetMinutes !== null && sessionSteps >= MEASURE_STEPS && (sessionSteps - MEASURE_STEPS) % 10 === 0) {
        const secondsPerStep = (now - t0) / 1000 / sessionSteps;
        sched.projectedSteps = projectSteps(settings, { step, capSteps, elapsedSeconds: elapsed(), secondsPerStep });
        if (sched.anneal) sched.projectedSteps = Math.max(step, Math.min(sched.projectedSteps, sched.anneal.step + sched.anneal.steps));
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
    const v = validateNow ? await validateAndFigures() : { improved: false, plateau: false };
    // A plateau under a decaying rate starts the closing anneal (once; the run then stops at its
    // end); under a constant rate, or with the rate already near its floor, it stops the run now.
    let stopNow = false;
    if (v.plateau && !sched.anneal) {
      const anneal = annealOnPlateau(settings, step, sched.projectedSteps);
      if (anneal) {
        sched.anneal = anneal;
        sched.projectedSteps = anneal.step + anneal.steps;
        hooks.log?.(`validation plateau at step ${step}: annealing the learning rate from ${anneal.factor.toFixed(3)} of its peak over ${anneal.steps} steps, then stopping`);
      } else stopNow = true;
    }
    await saveCheckpoint(v.improved ? ['last', 'best'] : ['last']);
    if (stopNow) {
      stopReason = 'plateau';
      break;
    }
  }
  if (stopReason === 'budget' || stopReason === 'plateau') {
    // A budget or an anneal ends mid-epoch: validate once more so the run ends with figures and a
    // current best (a plateau that stopped at once has just validated and checkpointed).
    const v = lastValidatedStep === step || sessionSteps === 0 ? { improved: false } : await validateAndFigures();
    if (lastCheckpointStep !== step || v.improved) await saveCheckpoint(v.improved ? ['last', 'best'] : ['last']);
  }
  return finish('completed', stopReason ?? 'epochs');
}

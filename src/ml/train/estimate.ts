import { availableParallelism } from 'node:os';
import { loadPreparedSlices, readPreparedIndex } from '../data/prepare';
import { initEngine, type EngineInfo } from '../engine';
import { Rng } from '../util/rng';
import { checkSliceSet, type TrainingData } from './data';
import { createRuntime } from './run';
import type { TrainJobSpec } from './spec';
import { trainingWasmThreads } from './threads';

/**
 * Times real optimiser steps of a configured stage before a run exists: the stage runtime the
 * training job builds (same networks, losses, optimisers, backend), fed real slices of the
 * dataset at the configured size, one warm-up step (kernel compilation, first allocations) and
 * then a few timed ones. Nothing is written. projection.ts turns the result into time per epoch.
 *
 * A batch larger than MAX_TIMED_BATCH (the reference's 256 slices at 160x224 need tens of GB and
 * hours per step on a CPU) is not run whole: steps are timed at two small batches and the time is
 * extrapolated along the line through them (a fixed part, e.g. the optimiser update, plus a part
 * per slice), which is how a convolutional step's cost grows with its batch on a CPU.
 */

/** Largest batch timed as it is (the desktop presets' 8). */
export const MAX_TIMED_BATCH = 8;
/**
 * The two batches a larger one is extrapolated from: small, so a large network's estimate takes
 * minutes and needs the least memory (on the wasm backend's 4 GB heap the reference autoencoder
 * at 160x224 does not fit even at 1: the estimate then says so).
 */
export const EXTRAPOLATION_BATCHES: readonly [number, number] = [1, 2];

// How the wasm backend fails when a step outgrows its heap (a trap, or an abort from its allocator).
const OUT_OF_MEMORY = /memory access out of bounds|out of memory|Cannot allocate|^Aborted\(/i;

/** What the measurement needs: a training job spec without a run. */
export type EstimateSpec = Pick<TrainJobSpec, 'datasetDir' | 'config' | 'parents' | 'backend'>;

export interface StepMeasurement {
  backend: string;
  /** Threads the backend computes with (null where it does not say, e.g. a GPU). */
  threads: number | null;
  warmupSeconds: number;
  /** Seconds per optimiser step at the configured batch (extrapolated when timedBatches has two). */
  secondsPerStep: number;
  /** Timed steps in all, after the warm-up. */
  timedSteps: number;
  /** The configured batch (fewer if the split is smaller), and the batches actually timed. */
  batchSize: number;
  timedBatches: { batch: number; steps: number; secondsPerStep: number }[];
  trainSlices: number;
  imageSize: [number, number];
  /** Autoencoder: whether the timed steps included the discriminator (it joins from advStartEpoch). */
  adversarial: boolean | null;
}

export interface MeasureOptions {
  /** Timed steps per batch size after the warm-up (default 3)... */
  timedSteps?: number;
  /** ...unless they have taken this long already (default 30 s; at least one is always timed). */
  maxTimedSeconds?: number;
  /** Polled between steps; true abandons the measurement with EstimateCancelledError. */
  shouldStop?(): boolean;
  progress?(phase: 'loading' | 'warm-up' | 'timing', done: number, total: number): void;
  /** Milliseconds now; tests may inject a clock. */
  clock?: () => number;
}

/** A step of this config does not fit in the backend's memory at the smallest batch tried. */
export class StepTooLargeError extends Error {
  constructor(
    batch: number,
    backend: string,
    override readonly cause: unknown,
  ) {
    super(`one training step at batch ${batch} does not fit in the ${backend} backend's memory, so this config cannot train on this machine: use the cluster export or the desktop preset`);
    this.name = 'StepTooLargeError';
  }
}

export class EstimateCancelledError extends Error {
  constructor() {
    super('the estimate was cancelled');
    this.name = 'EstimateCancelledError';
  }
}

function threadsOf(engine: EngineInfo): number | null {
  switch (engine.backend) {
    case 'wasm':
      return engine.wasmThreads;
    case 'cpu':
      return 1; // plain JavaScript kernels
    case 'tensorflow':
      return availableParallelism(); // TensorFlow's intra-op pool spans the cores
    default:
      return null;
  }
}

/**
 * Seconds per step at `batch` on the line through two timed batches; proportional to the larger
 * one when timing noise makes the line fall (a step never costs less with more slices).
 */
export function extrapolateStepTime(small: { batch: number; secondsPerStep: number }, large: { batch: number; secondsPerStep: number }, batch: number): number {
  const perSlice = (large.secondsPerStep - small.secondsPerStep) / (large.batch - small.batch);
  if (!(perSlice > 0)) return (large.secondsPerStep * batch) / large.batch;
  const fixed = Math.max(0, large.secondsPerStep - perSlice * large.batch);
  return fixed + perSlice * batch;
}

export async function measureTrainingStep(spec: EstimateSpec, opts: MeasureOptions = {}): Promise<StepMeasurement> {
  const clock = opts.clock ?? (() => performance.now());
  const perBatch = Math.max(1, opts.timedSteps ?? 3);
  const maxTimedMs = (opts.maxTimedSeconds ?? 30) * 1000;
  const stopIfAsked = () => {
    if (opts.shouldStop?.()) throw new EstimateCancelledError();
  };
  const { config } = spec;
  const engine = await initEngine({ backend: spec.backend === 'auto' ? undefined : (spec.backend as never), wasmThreadsDefault: trainingWasmThreads(spec.config.preset, spec.config.stage) });
  const { index } = readPreparedIndex(spec.datasetDir);
  const trainSlices = index.records.filter((r) => r.split === 'train').length;
  if (trainSlices === 0) throw new Error(`${spec.datasetDir}: the train split has no slices`);
  const batchSize = Math.min(config.loop.batchSize, trainSlices);
  const batches = batchSize <= MAX_TIMED_BATCH ? [batchSize] : [...EXTRAPOLATION_BATCHES];
  const total = 1 + perBatch * batches.length;
  opts.progress?.('loading', 0, total);
  // The largest timed batch of real slices is all the steps read; the split may be gigabytes.
  const largest = batches[batches.length - 1]!;
  const train = loadPreparedSlices(spec.datasetDir, { split: 'train', size: config.imageSize, limit: largest });
  checkSliceSet(train, `${spec.datasetDir} train split`);
  const data: TrainingData = { train, validation: train, description: `${spec.datasetDir} (step timing)` };
  stopIfAsked();
  const runtime = await createRuntime(spec, data);
  try {
    // The autoencoder's steps grow once the discriminator joins; time those if the run gets there.
    const ae = config.stage === 'autoencoder' ? config.autoencoder : undefined;
    const adversarial = ae ? ae.advStartEpoch < config.loop.epochs : null;
    const epoch = ae && adversarial ? ae.advStartEpoch : 0;
    const rng = Rng.fromSeed(config.loop.seed);
    // Slices repeat when the split is smaller than a timed batch: the cost is the same.
    const indices = (n: number) => Array.from({ length: n }, (_, i) => i % train.count);
    runtime.setLrFactor(1);
    let step = 0;

    const oneStep = async (batch: number) => {
      try {
        await runtime.trainStep(indices(batch), epoch, ++step, rng);
      } catch (err) {
        if (!OUT_OF_MEMORY.test(String((err as Error)?.message ?? err))) throw err;
        throw new StepTooLargeError(batch, engine.backend, err);
      }
    };

    opts.progress?.('warm-up', 0, total);
    stopIfAsked();
    const t = clock();
    await oneStep(batches[0]!);
    const warmupSeconds = (clock() - t) / 1000;

    const timedBatches: StepMeasurement['timedBatches'] = [];
    for (const batch of batches) {
      let timed = 0;
      const t0 = clock();
      try {
        while (timed < perBatch && (timed === 0 || clock() - t0 < maxTimedMs)) {
          opts.progress?.('timing', step, total);
          stopIfAsked();
          await oneStep(batch);
          timed += 1;
          // Lets the worker's messages (progress, cancel) through between steps, as the training loop does.
          await new Promise<void>((r) => setImmediate(r));
        }
      } catch (err) {
        // The second batch does not fit where the first did: scale the first in proportion.
        if (err instanceof StepTooLargeError && timedBatches.length === 1) break;
        throw err;
      }
      timedBatches.push({ batch, steps: timed, secondsPerStep: (clock() - t0) / 1000 / timed });
    }
    opts.progress?.('timing', total, total);
    const first = timedBatches[0]!;
    const secondsPerStep =
      timedBatches.length === 2
        ? extrapolateStepTime(first, timedBatches[1]!, batchSize)
        : (first.secondsPerStep * batchSize) / first.batch;
    return {
      backend: engine.backend,
      threads: threadsOf(engine),
      warmupSeconds,
      secondsPerStep,
      timedSteps: timedBatches.reduce((n, b) => n + b.steps, 0),
      batchSize,
      timedBatches,
      trainSlices,
      imageSize: [...config.imageSize],
      adversarial,
    };
  } finally {
    try {
      runtime.dispose();
    } catch {
      /* a backend that ran out of memory may fail to free; the worker ends with the job */
    }
  }
}

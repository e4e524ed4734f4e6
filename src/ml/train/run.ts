import { join } from 'node:path';
import { loadPreparedSlices } from '../data/prepare';
import { writeFileAtomic } from '../io';
import { initEngine } from '../engine';
import { AutoencoderRuntime } from './autoencoder';
import { ControlNetRuntime } from './controlnet';
import { checkSliceSet, type TrainingData } from './data';
import { LdmRuntime } from './ldm';
import { TRAINING_SUMMARY_FILE } from './pipeline-budget';
import { runSession, type StageRuntime, type TrainHooks, type TrainResult } from './session';
import type { TrainJobSpec } from './spec';
import { trainingWasmThreads } from './threads';

/**
 * One training job from a plain spec: picks the backend, loads the prepared slices (train and
 * validation split at the configured size), builds the stage and runs or resumes it. Used by the
 * worker thread; tests call it directly too.
 */

/** The last session's summary in the run folder: status, stop reason, schedule, data scaling. */
export { TRAINING_SUMMARY_FILE };

export interface RunHooks extends TrainHooks {
  started?(backend: string): void;
}

export function loadTrainingData(datasetDir: string, size: [number, number]): TrainingData {
  const train = loadPreparedSlices(datasetDir, { split: 'train', size });
  const validation = loadPreparedSlices(datasetDir, { split: 'validation', size });
  const data: TrainingData = {
    train,
    validation,
    description: `${datasetDir} (${size[0]}x${size[1]})`,
    scaling: { method: train.index.normalisation, percentiles: train.index.percentiles },
  };
  checkSliceSet(train, `${datasetDir} train split`);
  checkSliceSet(validation, `${datasetDir} validation split`);
  return data;
}

export async function createRuntime(spec: Pick<TrainJobSpec, 'config' | 'parents'>, data: TrainingData): Promise<StageRuntime> {
  switch (spec.config.stage) {
    case 'autoencoder':
      return AutoencoderRuntime.create(spec.config, data);
    case 'ldm':
      return LdmRuntime.create(spec.config, data, spec.parents);
    case 'controlnet':
      return ControlNetRuntime.create(spec.config, data, spec.parents);
    default:
      throw new Error(`unknown stage ${String((spec.config as { stage: unknown }).stage)}`);
  }
}

export async function runTraining(
  spec: TrainJobSpec,
  hooks: RunHooks = {},
  data?: TrainingData,
): Promise<{ result: TrainResult; summary: Record<string, unknown> }> {
  const engine = await initEngine({ backend: spec.backend === 'auto' ? undefined : (spec.backend as never), wasmThreadsDefault: trainingWasmThreads(spec.config.preset, spec.config.stage) });
  hooks.started?.(engine.backend);
  const slices = data ?? loadTrainingData(spec.datasetDir, spec.config.imageSize);
  const runtime = await createRuntime(spec, slices);
  try {
    const result = await runSession(
      runtime,
      { runDir: spec.runDir, loop: spec.config.loop, data: slices, config: spec.config as unknown as Record<string, unknown>, resume: spec.resume },
      hooks,
    );
    const summary: Record<string, unknown> = {
      stage: spec.config.stage,
      backend: engine.backend,
      // Results do not depend on it (XNNPACK splits work by output tiles), only the speed does.
      wasmThreads: engine.wasmThreads,
      status: result.status,
      step: result.step,
      epoch: result.epoch,
      wallSeconds: result.wallSeconds,
      lastLosses: result.lastLosses,
      lastValLoss: result.lastValLoss,
      bestValLoss: result.bestValLoss,
      // The dataset's intensity scaling: a model only makes sense on inputs scaled the same way.
      intensityScaling: slices.scaling ?? null,
      stopReason: result.stopReason,
      schedule: result.schedule,
      trainSlices: slices.train.count,
      validationSlices: slices.validation.count,
    };
    if (runtime instanceof LdmRuntime) summary.latentScale = runtime.scale;
    if (runtime instanceof AutoencoderRuntime) summary.perceptualNetwork = runtime.perceptualInfo;
    // Why the run stopped and where its schedule ended, beside its checkpoints, for whoever reads
    // the run later (the database keeps the config and the per-step lr_factor metric).
    writeFileAtomic(join(spec.runDir, TRAINING_SUMMARY_FILE), new TextEncoder().encode(JSON.stringify(summary, null, 1)));
    return { result, summary };
  } finally {
    runtime.dispose();
  }
}

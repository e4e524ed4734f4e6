import type { ParsedRequestOf, TrainEstimate } from '../../shared/contract';
import type { StepMeasurement, EstimateSpec } from '../../ml/train/estimate';
import type { ParentRunInfo } from '../../ml/train/validate';
import { projectRun } from '../../ml/train/projection';
import { scheduleSettings } from '../../ml/train/schedule';
import { ConflictError, InvalidInputError } from '../errors';
import type { JobHost } from '../jobs/host';
import { preparedDatasetDir, type PreparedDirDeps } from '../data/prepared-dir';

/**
 * 'train.estimate': how long a training run would take on this machine, from real optimiser steps
 * timed before it starts. The config is built and checked exactly as jobs.start builds it; the
 * steps run as an 'estimate' job on the one job host's compute lane (never in this thread), and
 * the answer projects them over the dataset's train split, the epoch cap and the budgets. The
 * newest estimate wins: a form that changed makes the one still running useless, so it is cancelled.
 */

export type EstimateRequest = ParsedRequestOf<'train.estimate'>;

export interface EstimateDeps extends PreparedDirDeps {
  host: JobHost;
  /** Resolves a parent run as jobs.start does (TrainingJobs.parentInfo). */
  parentInfo(runId: number): ParentRunInfo;
}

export class TrainingEstimates {
  private latestJobId: string | null = null;

  constructor(private readonly deps: EstimateDeps) {}

  /** The spec jobs.start would train with, refused with the same reasons. */
  async spec(req: EstimateRequest): Promise<EstimateSpec> {
    const { buildTrainConfig, resolvePerceptual, validateTrainConfig } = await import('../../ml/train/validate');
    let found;
    try {
      found = preparedDatasetDir(this.deps, req.datasetId);
    } catch {
      throw new InvalidInputError(`unknown dataset ${req.datasetId}`);
    }
    if (found.dir === null) throw new InvalidInputError(`dataset ${req.datasetId} (${found.name}) has no prepared slices; prepare it in the Data view first`);
    const parent = req.parentRunId !== undefined ? this.deps.parentInfo(req.parentRunId) : undefined;
    try {
      let config = buildTrainConfig({ stage: req.stage, preset: req.preset, epochs: req.epochs, seed: req.seed, overrides: req.overrides ?? [], parent });
      validateTrainConfig(config, { parent, datasetDir: found.dir });
      config = await resolvePerceptual(config);
      return { datasetDir: found.dir, config, parents: parentDirs(parent), backend: req.backend ?? 'auto' };
    } catch (err) {
      throw new InvalidInputError((err as Error).message);
    }
  }

  async estimate(req: EstimateRequest): Promise<TrainEstimate> {
    const spec = await this.spec(req);
    const { host } = this.deps;
    if (this.latestJobId !== null) {
      try {
        host.cancel(this.latestJobId);
      } catch {
        /* already ended and pruned */
      }
    }
    let measured: StepMeasurement | null = null;
    const job = host.submit({
      payload: { kind: 'estimate', spec },
      label: `estimate ${req.stage} (${req.preset})`,
      datasetId: req.datasetId,
      onDone: (outcome) => {
        if (outcome.status === 'completed') measured = outcome.result as StepMeasurement;
      },
    });
    this.latestJobId = job.jobId;
    const ended = await host.wait(job.jobId);
    if (this.latestJobId === job.jobId) this.latestJobId = null;
    if (ended.state === 'cancelled') throw new ConflictError('the estimate was cancelled (a newer estimate or a cancel replaced it)');
    if (ended.state === 'failed' || measured === null) throw new Error(`the estimate failed: ${ended.error ?? 'no measurement came back'}`);
    return answer(spec, measured);
  }
}

function parentDirs(parent: ParentRunInfo | undefined): EstimateSpec['parents'] {
  if (!parent) return {};
  if (parent.stage === 'autoencoder') return { autoencoder: parent.runDir };
  return { ldm: parent.runDir, autoencoder: parent.parentDirs.autoencoder };
}

/** The measurement and its projection over the configured run. */
export function answer(spec: EstimateSpec, m: StepMeasurement): TrainEstimate {
  const { loop } = spec.config;
  const settings = scheduleSettings(loop);
  const p = projectRun({
    secondsPerStep: m.secondsPerStep,
    trainSlices: m.trainSlices,
    batchSize: loop.batchSize,
    maxStepsPerEpoch: loop.maxStepsPerEpoch,
    epochs: loop.epochs,
    budgetSteps: settings.budgetSteps,
    budgetMinutes: settings.budgetMinutes,
  });
  return { ...m, ...p, epochs: loop.epochs };
}

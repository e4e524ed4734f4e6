import { z } from 'zod';
import { ById, channel, Empty, Id, IsoTime, JsonObject } from './common';
import { Run, RunStage, RunStatus } from './runs';

/** Training jobs (autoencoder, LDM, ControlNet stages) and the Train view's form checks. */

export const TrainStage = z.enum(['autoencoder', 'ldm', 'controlnet']);
export type TrainStage = z.infer<typeof TrainStage>;

/** Training detail carried by 'job.progress' for training jobs (live curves, ETA, memory). */
export const TrainingProgress = z.object({
  stage: TrainStage,
  epoch: z.number().int(),
  epochs: z.number().int(),
  step: z.number().int(),
  totalSteps: z.number().int(),
  losses: z.record(z.string(), z.number()),
  stepsPerSecond: z.number().nullable(),
  memory: z.object({ tensors: z.number(), bytes: z.number(), rssBytes: z.number() }),
  backend: z.string().nullable(),
});
export type TrainingProgress = z.infer<typeof TrainingProgress>;

/** A training job of the answering process: queued or running. */
export const JobInfo = z.object({
  runId: Id,
  stage: TrainStage,
  state: z.enum(['queued', 'running']),
  backend: z.string().nullable(),
  progress: TrainingProgress.nullable(),
});
export type JobInfo = z.infer<typeof JobInfo>;

/** A measured training step and what it projects for the run ('train.estimate'). */
export const TrainEstimate = z.object({
  /** The backend the steps ran on, and the threads it computes with (null: not reported, e.g. a GPU). */
  backend: z.string(),
  threads: z.number().int().nullable(),
  /** At the configured batch; extrapolated from timedBatches when that batch is too large to run here. */
  secondsPerStep: z.number(),
  /** The first step (kernel compilation, allocations), not counted in secondsPerStep. */
  warmupSeconds: z.number(),
  timedSteps: z.number().int(),
  batchSize: z.number().int(),
  timedBatches: z.array(z.object({ batch: z.number().int(), steps: z.number().int(), secondsPerStep: z.number() })),
  trainSlices: z.number().int(),
  imageSize: z.array(z.number().int()),
  /** Autoencoder: whether the timed steps included the discriminator (it joins at advStartEpoch). */
  adversarial: z.boolean().nullable(),
  stepsPerEpoch: z.number().int(),
  secondsPerEpoch: z.number(),
  /** The epoch cap, and the steps and time the run would take under its cap and budgets. */
  epochs: z.number().int(),
  totalSteps: z.number().int(),
  totalSeconds: z.number(),
  limitedBy: z.enum(['epochs', 'budgetSteps', 'budgetTime']),
  epochsCovered: z.number(),
  /** With a time budget: the optimiser steps it buys at the measured speed. */
  stepsInBudget: z.number().int().nullable(),
  /** Set when one epoch or the whole run would take more than a day. */
  warning: z.string().nullable(),
});
export type TrainEstimate = z.infer<typeof TrainEstimate>;

/** What a training run is started from; an estimate takes the same, so it times what Start would train. */
const TrainArgs = {
  stage: TrainStage,
  datasetId: Id,
  preset: z.enum(['desktop', 'reference']),
  parentRunId: Id.optional(),
  epochs: z.number().int().positive().max(100_000).optional(),
  seed: z.number().int().optional(),
  backend: z.string().max(64).optional(),
  /** `key=value` config overrides (dotted paths), as the CLI's --set. */
  overrides: z.array(z.string().max(2000)).max(200).optional(),
};

export const trainChannels = {
  /** Starts a training run (validated before any work; refused with the reason). */
  'jobs.start': channel(
    z
      .object({
        ...TrainArgs,
        name: z.string().max(200).optional(),
        experimentId: Id.optional(),
      })
      .strict(),
    Run,
  ),
  'jobs.cancel': channel(ById, Run),
  'jobs.resume': channel(ById, Run),
  'jobs.list': channel(Empty, z.object({ jobs: z.array(JobInfo) })),
  /**
   * The config a jobs.start with these arguments would use (validated; refused with the reason),
   * plus the reference preset's config for the same stage, to show reference values beside fields.
   * Answered by the same code as train.validate (which also takes epochs and seed), refusing
   * where train.validate would report the reason.
   */
  'jobs.config': channel(
    z
      .object({
        stage: TrainStage,
        preset: z.enum(['desktop', 'reference']),
        datasetId: Id.optional(),
        parentRunId: Id.optional(),
        overrides: z.array(z.string().max(2000)).max(200).optional(),
      })
      .strict(),
    z.object({ config: JsonObject, reference: JsonObject }),
  ),

  /**
   * Train view form: the config a jobs.start request would train with (base preset + overrides),
   * the reference preset's values, and jobs.start's refusal (null = it would start); `choices`
   * lists the accepted values of fields that take one of a few words. Writes nothing.
   */
  'train.validate': channel(
    z
      .object({
        stage: TrainStage,
        preset: z.enum(['desktop', 'reference']),
        datasetId: Id.optional(),
        parentRunId: Id.optional(),
        epochs: z.number().int().positive().max(100_000).optional(),
        seed: z.number().int().optional(),
        overrides: z.array(z.string().max(2000)).max(200).optional(),
      })
      .strict(),
    z.object({
      base: JsonObject.nullable(),
      reference: JsonObject.nullable(),
      config: JsonObject.nullable(),
      error: z.string().nullable(),
      choices: z.record(z.string(), z.array(z.string())).optional(),
      /** Where the default time budget comes from when the parent runs set it (null: the stage's own default). */
      budgetNote: z.string().nullable().optional(),
    }),
  ),
  /**
   * Times a few real optimiser steps of what jobs.start with these arguments would train (a short
   * job on the compute lane; nothing is written) and projects time per epoch and for the run.
   * A newer estimate supersedes one still running (that one is refused as superseded).
   */
  'train.estimate': channel(
    z.object(TrainArgs).strict(),
    TrainEstimate,
  ),
  /** Runs a stage can start from (LDM: autoencoder runs, ControlNet: LDM runs) that have a checkpoint. */
  'train.parents': channel(
    z.object({ stage: TrainStage, datasetId: Id.optional() }).strict(),
    z.object({
      needs: z.enum(['autoencoder', 'ldm']).nullable(),
      runs: z.array(
        z.object({
          id: Id,
          name: z.string().nullable(),
          stage: RunStage,
          status: RunStatus,
          datasetId: Id.nullable(),
          imageSize: z.array(z.number()).nullable(),
          finishedAt: IsoTime.nullable(),
        }),
      ),
    }),
  ),
} as const;

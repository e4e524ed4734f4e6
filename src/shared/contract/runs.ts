import { z } from 'zod';
import { ById, ByRunId, channel, Empty, Id, IsoTime, JsonObject, MetricName, SplitName } from './common';
import { MAX_NOTES_LENGTH, normaliseTags, tagsProblem } from '../run-tags';

/** Runs, their lineage, metrics, checkpoints and artefacts, and the experiments that group them. */

export const RunStage = z.enum(['autoencoder', 'ldm', 'controlnet', 'evaluation']);
export type RunStage = z.infer<typeof RunStage>;

export const RunStatus = z.enum(['created', 'queued', 'running', 'completed', 'failed', 'cancelled']);
export type RunStatus = z.infer<typeof RunStatus>;

export const RunParent = z.object({
  runId: Id,
  /** What the parent provides: 'autoencoder' | 'ldm' | 'controlnet' | ... */
  role: z.string().min(1).max(64),
});
export type RunParent = z.infer<typeof RunParent>;

export const Run = z.object({
  id: Id,
  experimentId: Id.nullable(),
  datasetId: Id.nullable(),
  name: z.string().nullable(),
  stage: RunStage,
  status: RunStatus,
  config: JsonObject,
  backend: z.string().nullable(),
  seed: z.number().int().nullable(),
  error: z.string().nullable(),
  createdAt: IsoTime,
  startedAt: IsoTime.nullable(),
  finishedAt: IsoTime.nullable(),
  updatedAt: IsoTime,
  parents: z.array(RunParent),
  /** Free text the researcher keeps with the run ('' when none). */
  notes: z.string(),
  /** Short labels, normalised (see run-tags.ts). */
  tags: z.array(z.string()),
});
export type Run = z.infer<typeof Run>;

/**
 * Tags as a request gives them: any spelling, checked after normalising (trim, case-insensitive
 * duplicates dropped), which the back end stores.
 */
export const RunTagsInput = z
  .array(z.string().max(1000))
  .max(1000)
  .superRefine((tags, ctx) => {
    const problem = tagsProblem(normaliseTags(tags));
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

export const MetricPoint = z.object({
  step: z.number().int().nonnegative(),
  epoch: z.number().int().nonnegative().nullable().optional(),
  split: SplitName.optional(), // default 'train'
  name: MetricName,
  value: z.number().refine(Number.isFinite, 'must be a finite number'),
  /** Seconds since the Unix epoch; defaults to the time of the append. */
  wallTime: z.number().optional(),
});
export type MetricPoint = z.infer<typeof MetricPoint>;

export const MetricStat = z.object({ step: z.number().int(), value: z.number() });

export const MetricSummary = z.object({
  name: z.string(),
  split: z.string(),
  /** 'min' for losses and errors, 'max' for psnr/ssim/ms_ssim-like scores. */
  goal: z.enum(['min', 'max']),
  count: z.number().int(),
  last: MetricStat,
  best: MetricStat,
  /** Evaluation runs only: the mean over the evaluated images (the number a reader compares). */
  mean: z.number().optional(),
});
export type MetricSummary = z.infer<typeof MetricSummary>;

export const RunListItem = Run.extend({
  datasetName: z.string().nullable(),
  metrics: z.array(MetricSummary),
});
export type RunListItem = z.infer<typeof RunListItem>;

export const MetricSeries = z.object({
  name: z.string(),
  split: z.string(),
  steps: z.array(z.number()),
  values: z.array(z.number()),
  /** Points stored for this series in the queried step range (before downsampling). */
  total: z.number().int(),
  downsampled: z.boolean(),
});
export type MetricSeries = z.infer<typeof MetricSeries>;

export const Checkpoint = z.object({
  id: Id,
  runId: Id,
  kind: z.string(),
  path: z.string(),
  step: z.number().int(),
  epoch: z.number().int().nullable(),
  sha256: z.string(),
  createdAt: IsoTime,
});
export type Checkpoint = z.infer<typeof Checkpoint>;

export const Artefact = z.object({
  id: Id,
  runId: Id.nullable(),
  datasetId: Id.nullable(),
  kind: z.string(),
  path: z.string(),
  step: z.number().int().nullable(),
  meta: JsonObject,
  createdAt: IsoTime,
});
export type Artefact = z.infer<typeof Artefact>;

export const Experiment = z.object({
  id: Id,
  name: z.string(),
  description: z.string().nullable(),
  createdAt: IsoTime,
  runCount: z.number().int(),
});
export type Experiment = z.infer<typeof Experiment>;

/** The most points one metrics.append call may carry (bigger bursts: send several calls). */
export const MAX_METRIC_BATCH = 100_000;

export const runChannels = {
  'experiments.list': channel(Empty, z.object({ experiments: z.array(Experiment) })),
  'experiments.create': channel(
    z.object({ name: z.string().min(1).max(200), description: z.string().max(10_000).optional() }).strict(),
    Experiment,
  ),

  'runs.list': channel(
    z
      .object({
        stage: RunStage.optional(),
        status: RunStatus.optional(),
        experimentId: Id.optional(),
        datasetId: Id.optional(),
        limit: z.number().int().positive().max(10_000).optional(),
        offset: z.number().int().nonnegative().optional(),
      })
      .strict(),
    z.object({ runs: z.array(RunListItem), total: z.number().int() }),
  ),
  'runs.get': channel(ById, Run),
  'runs.create': channel(
    z
      .object({
        stage: RunStage,
        name: z.string().max(200).optional(),
        experimentId: Id.optional(),
        datasetId: Id.optional(),
        config: JsonObject.optional(),
        backend: z.string().max(64).optional(),
        seed: z.number().int().optional(),
        parents: z.array(RunParent).max(16).optional(),
        status: RunStatus.optional(),
      })
      .strict(),
    Run,
  ),
  'runs.update': channel(
    z
      .object({
        id: Id,
        status: RunStatus.optional(),
        name: z.string().max(200).nullable().optional(),
        error: z.string().max(100_000).nullable().optional(),
        backend: z.string().max(64).nullable().optional(),
        config: JsonObject.optional(),
        notes: z.string().max(MAX_NOTES_LENGTH).optional(),
        /** Replaces the run's tags. */
        tags: RunTagsInput.optional(),
      })
      .strict(),
    Run,
  ),
  'runs.summary': channel(ByRunId, z.object({ runId: Id, metrics: z.array(MetricSummary) })),

  'metrics.append': channel(
    z.object({ runId: Id, points: z.array(MetricPoint).min(1).max(MAX_METRIC_BATCH) }).strict(),
    z.object({ appended: z.number().int() }),
  ),
  'metrics.query': channel(
    z
      .object({
        runId: Id,
        names: z.array(MetricName).optional(),
        split: SplitName.optional(),
        fromStep: z.number().int().optional(),
        toStep: z.number().int().optional(),
        /** Per series; larger series are downsampled (min/max per bucket, keeps extremes). */
        maxPoints: z.number().int().min(2).max(1_000_000).optional(),
      })
      .strict(),
    z.object({ runId: Id, series: z.array(MetricSeries) }),
  ),

  'checkpoints.list': channel(ByRunId, z.object({ checkpoints: z.array(Checkpoint) })),
  'artefacts.list': channel(
    z.object({ runId: Id.optional(), datasetId: Id.optional(), kind: z.string().optional() }).strict(),
    z.object({ artefacts: z.array(Artefact) }),
  ),
} as const;

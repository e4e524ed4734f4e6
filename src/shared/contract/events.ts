import { z } from 'zod';
import { Id } from './common';
import { DataJob } from './datasets';
import { Job } from './jobs';
import { Run } from './runs';
import { TrainingProgress } from './train';

/** Push events (main -> renderer). */

export const events = {
  /** Progress of a long job (import, training, generation). */
  'job.progress': z.object({
    jobId: z.string(),
    kind: z.string(),
    runId: Id.nullable().optional(),
    phase: z.string(),
    done: z.number(),
    total: z.number().nullable(),
    message: z.string().optional(),
    etaSeconds: z.number().nullable().optional(),
    training: TrainingProgress.optional(),
  }),
  /** Any job changed state or progressed (one event for every kind; views follow it instead of polling). */
  'job.updated': Job,
  /** New metric points were committed for a run. */
  'metrics.appended': z.object({
    runId: Id,
    count: z.number().int(),
    names: z.array(z.string()),
    lastStep: z.number().int(),
  }),
  /** A line a training run's loop reports about itself (a resume point, a plateau's anneal). */
  'run.log': z.object({ runId: Id, message: z.string() }),
  /** A run was created or changed (status, error, ...). */
  'run.updated': z.object({ run: Run }),
  /** A dataset job (import, phantom, prepare, fetch) changed state or progressed. */
  'data.job': DataJob,
  /** A dataset was imported, prepared or deleted. */
  'dataset.updated': z.object({ datasetId: Id, deleted: z.boolean().optional() }),
} as const;

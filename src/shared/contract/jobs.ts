import { z } from 'zod';
import { channel, Empty, Id, IsoTime } from './common';
import { TrainingProgress } from './train';

/**
 * Any job of the answering process (dataset, training, sampling, evaluation), as pushed by
 * 'job.updated'. `kind` is open (a registry on the back end: later kinds plug in); `lane` says
 * whether it waits for the one compute slot or runs beside it.
 */
export const Job = z.object({
  jobId: z.string(),
  kind: z.string(),
  lane: z.enum(['compute', 'io']),
  label: z.string(),
  runId: Id.nullable(),
  datasetId: Id.nullable(),
  state: z.enum(['queued', 'running', 'completed', 'failed', 'cancelled']),
  phase: z.string(),
  done: z.number(),
  total: z.number().nullable(),
  etaSeconds: z.number().nullable(),
  message: z.string().nullable(),
  error: z.string().nullable(),
  createdAt: IsoTime,
  startedAt: IsoTime.nullable(),
  finishedAt: IsoTime.nullable(),
  /** Training jobs: the latest step's detail (losses, epoch, memory) the Train view draws. */
  training: TrainingProgress.optional(),
});
export type Job = z.infer<typeof Job>;

export const jobChannels = {
  /** Every job of the answering process, any kind (queued, running and recently ended). */
  'jobs.all': channel(Empty, z.object({ jobs: z.array(Job) })),
  /** Cancels any job of the answering process by its job id (a queued one at once, a running one at its next step). */
  'jobs.cancelJob': channel(z.object({ jobId: z.string().min(1).max(100) }).strict(), Job),
} as const;

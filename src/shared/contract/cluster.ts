import { z } from 'zod';
import { channel, Id } from './common';
import { Run } from './runs';
import { TrainStage } from './train';

/** Cluster jobs: train a stage with torchrun + MONAI elsewhere, then import the run here. */
export const clusterChannels = {
  /** Writes a job folder for one stage (config validated as jobs.start); outDir defaults to HOME/cluster-jobs/. */
  'cluster.export': channel(
    z
      .object({
        stage: TrainStage,
        datasetId: Id,
        preset: z.enum(['desktop', 'reference']),
        parentRunId: Id.optional(),
        epochs: z.number().int().positive().max(100_000).optional(),
        seed: z.number().int().optional(),
        overrides: z.array(z.string().max(2000)).max(200).optional(),
        name: z.string().max(200).optional(),
        outDir: z.string().min(1).max(4096).optional(),
      })
      .strict(),
    z.object({
      dir: z.string(),
      jobId: z.string(),
      /** Files other than the slice PNGs, relative to dir. */
      files: z.array(z.string()),
      pngs: z.number().int(),
      commands: z.object({ cpu: z.string(), gpus: z.string(), slurm: z.string() }),
    }),
  ),
  /** Imports (or updates) a job folder's run; follow keeps importing in this process while the job runs. */
  'cluster.import': channel(
    z.object({ dir: z.string().min(1).max(4096), follow: z.boolean().optional() }).strict(),
    z.object({
      run: Run,
      created: z.boolean(),
      metrics: z.number().int(),
      checkpointStep: z.number().int().nullable(),
      jobState: z.string(),
      following: z.boolean(),
    }),
  ),
} as const;

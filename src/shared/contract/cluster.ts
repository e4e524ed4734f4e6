import { z } from 'zod';
import { channel } from './common';
import { Run } from './runs';
import { trainChannels } from './train';

/** Cluster jobs: train a stage with torchrun + MONAI elsewhere, then import the run here. */
export const clusterChannels = {
  /** Writes a job folder for one stage (config validated as jobs.start); outDir defaults to HOME/cluster-jobs/. */
  'cluster.export': channel(
    // The same run settings as a local training start (minus where it computes), plus the folder.
    trainChannels['jobs.start'].request.omit({ backend: true, experimentId: true }).extend({ outDir: z.string().min(1).max(4096).optional() }),
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

import { z } from 'zod';
import { ById, channel, Empty, Id, IsoTime, JsonObject } from './common';
import { DatasetName } from '../dataset-name';

/** Datasets (imported, phantom, downloaded), their subjects and volumes, and the dataset jobs. */

export const Dataset = z.object({
  id: Id,
  name: z.string(),
  kind: z.enum(['imported', 'phantom', 'downloaded']),
  source: z.string().nullable(),
  attribution: z.string().nullable(),
  synthetic: z.boolean(),
  grid: z.string().nullable(),
  normalisation: z.string().nullable(),
  prepared: JsonObject.nullable(),
  warnings: z.array(z.string()),
  createdAt: IsoTime,
  subjectCount: z.number().int(),
  volumeCount: z.number().int(),
});
export type Dataset = z.infer<typeof Dataset>;

/** One stored volume of a subject (Data view): grid, orientation and the import checks. */
export const DatasetVolume = z.object({
  id: Id,
  modality: z.enum(['FLAIR', 'T1w', 'lesion_mask', 'brain_mask']),
  fileName: z.string(),
  dims: z.array(z.number().int()),
  pixdim: z.array(z.number()),
  /** 4x4 voxel-to-world (MNI mm) affine, row-major. */
  affine: z.array(z.array(z.number())),
  orientation: z.string().nullable(),
  datatype: z.string().nullable(),
  checks: JsonObject,
});
export type DatasetVolume = z.infer<typeof DatasetVolume>;

export const DatasetSubject = z.object({
  id: Id,
  label: z.string(),
  session: z.string().nullable(),
  split: z.string().nullable(),
  volumes: z.array(DatasetVolume),
  /** Axial indices (voxel z of the LAS volume) in the prepared slice set; null when not prepared. */
  preparedZs: z.array(z.number().int()).nullable(),
});
export type DatasetSubject = z.infer<typeof DatasetSubject>;

export const DatasetDetail = Dataset.extend({ subjects: z.array(DatasetSubject) });
export type DatasetDetail = z.infer<typeof DatasetDetail>;

/** A long dataset operation (import, phantom, prepare, open MS fetch) running in a worker. */
export const DataJob = z.object({
  jobId: z.string(),
  kind: z.enum(['import', 'phantom', 'prepare', 'fetch-open-ms']),
  label: z.string(),
  state: z.enum(['queued', 'running', 'completed', 'failed', 'cancelled']),
  phase: z.string(),
  done: z.number(),
  total: z.number().nullable(),
  datasetId: Id.nullable(),
  error: z.string().nullable(),
  createdAt: IsoTime,
  finishedAt: IsoTime.nullable(),
});
export type DataJob = z.infer<typeof DataJob>;

export const datasetChannels = {
  'datasets.list': channel(Empty, z.object({ datasets: z.array(Dataset) })),
  'datasets.get': channel(ById, Dataset),
  /** Subjects, volumes (grid, checks) and which slices are in the prepared set. */
  'datasets.detail': channel(ById, DatasetDetail),
  /**
   * Where the renderer fetches a volume's NIfTI bytes: app://brainsynth/volumes/<id> in Electron,
   * /volumes/<id> on the bridge (needsToken: append the page's ?token=).
   */
  'datasets.volumeUrl': channel(
    z.object({ volumeId: Id }).strict(),
    z.object({ url: z.string(), fileName: z.string(), needsToken: z.boolean() }),
  ),
  'datasets.import': channel(z.object({ dir: z.string().min(1).max(4096), name: DatasetName }).strict(), DataJob),
  'datasets.phantom': channel(
    z.object({ subjects: z.number().int().min(1).max(200), name: DatasetName, seed: z.number().int().optional() }).strict(),
    DataJob,
  ),
  'datasets.prepare': channel(
    z
      .object({
        id: Id,
        /** 'brain-band' | 'reference' | ... as `data prepare --slices`. */
        slices: z.string().max(200).optional(),
        fractions: z.tuple([z.number().min(0), z.number().min(0), z.number().min(0)]).optional(),
        seed: z.number().int().optional(),
        /** Intensity scaling; omitted: the dataset's earlier choice, else percentile. */
        normalisation: z.enum(['percentile', 'minmax']).optional(),
      })
      .strict(),
    DataJob,
  ),
  'datasets.fetchOpenMs': channel(
    z
      .object({
        name: DatasetName.optional(),
        subjects: z.array(z.string().max(64)).max(64).optional(),
        // Only web addresses: file:// or other schemes would read local files as "downloads".
        baseUrl: z.url({ protocol: /^https?$/ }).max(2048).optional(),
      })
      .strict(),
    DataJob,
  ),
  'datasets.jobs': channel(Empty, z.object({ jobs: z.array(DataJob) })),
} as const;

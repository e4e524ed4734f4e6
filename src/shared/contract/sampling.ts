import { z } from 'zod';
import { channel, Empty, FiniteOrNull, Id, JsonObject } from './common';
import { Artefact } from './runs';

/**
 * Sampling: the Generate view's slice jobs and whole-volume translation. Heavy work runs as a job in
 * a worker; progress arrives as 'job.updated' (and 'job.progress') with kind 'generate' | 'translate' | 'evaluate'.
 */

export const SamplerKind = z.enum(['ddim', 'ddpm']);
export type SamplerKind = z.infer<typeof SamplerKind>;
export const SamplingFields = {
  /** The trained ControlNet run. */
  runId: Id,
  /** Denoising steps (DDIM default 200, the reference; DDPM default 1000). */
  steps: z.number().int().min(1).max(1000).optional(),
  /** Classifier-free guidance scale (default: the run's, reference 7). */
  guidanceScale: z.number().min(0).max(100).optional(),
  /** ControlNet conditioning scale (default: the run's, reference 1). */
  conditioningScale: z.number().min(0).max(10).optional(),
  /** Zero the generated T1w outside the FLAIR's brain (default: the run's; desktop runs do). */
  brainMask: z.boolean().optional(),
  sampler: SamplerKind.optional(),
  /** Image k uses seed + k (slice z of a volume uses seed + z). */
  seed: z.number().int().min(0).max(2 ** 31).optional(),
  batch: z.number().int().min(1).max(64).optional(),
  checkpoint: z.enum(['last', 'best']).optional(),
  backend: z.string().max(64).optional(),
};
const SliceMetrics = z.record(z.string(), FiniteOrNull);

export const SamplingJobProgress = z.object({
  phase: z.string(),
  done: z.number(),
  total: z.number(),
  step: z.number().optional(),
  steps: z.number().optional(),
  message: z.string(),
});

/** A sampling job and, once finished, what it produced. */
export const GenerateJobView = z.object({
  jobId: z.string(),
  kind: z.enum(['slice', 'volume', 'evaluate']),
  runId: Id.nullable(),
  state: z.enum(['queued', 'running', 'completed', 'failed', 'cancelled']),
  progress: SamplingJobProgress.nullable(),
  backend: z.string().nullable(),
  error: z.string().nullable(),
  /** Slice jobs: PNG data URLs (160x224, value*255 truncated) of every panel. */
  images: z
    .object({
      width: z.number().int(),
      height: z.number().int(),
      flair: z.string(),
      t1w: z.string().nullable(),
      samples: z.array(z.string()),
      mean: z.string(),
      /** Per-pixel std over the samples, scaled to [0, stdMax] for display. */
      std: z.string(),
      stdMax: z.number(),
      absDiff: z.string().nullable(),
    })
    .optional(),
  seeds: z.array(z.number().int()).optional(),
  /** PSNR / MAE / MS-SSIM (+ lesion columns) per sample and of the mean image; null without a real T1w. */
  metrics: z.object({ sample: z.array(SliceMetrics), mean: SliceMetrics }).nullable().optional(),
  seconds: z.number().optional(),
  volume: z
    .object({ outPath: z.string(), sampledSlices: z.number().int(), skippedSlices: z.number().int(), secondsPerSlice: FiniteOrNull, artefactId: Id.nullable() })
    .optional(),
  evaluationRunId: Id.optional(),
});
export type GenerateJobView = z.infer<typeof GenerateJobView>;

export const generateChannels = {
  /** One FLAIR slice (dataset subject + LAS z, or a 160x224 array in [0,1]) -> N samples; answers a job id. */
  'generate.slice': channel(
    z
      .object({
        ...SamplingFields,
        datasetId: Id.optional(),
        subject: z.union([z.string().min(1).max(200), Id]).optional(),
        z: z.number().int().nonnegative().optional(),
        flair: z.array(z.number().min(0).max(1)).length(160 * 224).optional(),
        samples: z.number().int().min(1).max(64).optional(),
      })
      .strict(),
    z.object({ jobId: z.string() }),
  ),
  /**
   * How much signal each axial FLAIR slice of a subject holds, normalised as the run's dataset was
   * (default normalisation without a run): what generate.slice checks before it samples a slice.
   * fractions[z] (LAS z, as generate.slice takes it) is the fraction of the 160x224 slice above
   * `level` of the brain intensity; generate.slice refuses a slice under `minFraction`.
   */
  'generate.sliceSignal': channel(
    z.object({ runId: Id.optional(), datasetId: Id, subject: z.union([z.string().min(1).max(200), Id]) }).strict(),
    z.object({ datasetId: Id, subject: z.string(), fractions: z.array(z.number()), level: z.number(), minFraction: z.number() }),
  ),
  /** Whole-volume translation of a FLAIR NIfTI (path, or a dataset subject's FLAIR) to a T1w NIfTI. */
  'generate.volume': channel(
    z
      .object({
        ...SamplingFields,
        flairPath: z.string().min(1).max(4096).optional(),
        datasetId: Id.optional(),
        subject: z.union([z.string().min(1).max(200), Id]).optional(),
        outPath: z.string().min(1).max(4096).optional(),
      })
      .strict(),
    z.object({ jobId: z.string(), outPath: z.string() }),
  ),
  'generate.result': channel(z.object({ jobId: z.string().min(1).max(100) }).strict(), GenerateJobView),
  /** Stores a finished slice job's panels as PNG artefacts of its ControlNet run. */
  'generate.save': channel(z.object({ jobId: z.string().min(1).max(100) }).strict(), z.object({ artefacts: z.array(Artefact) })),
  'generate.cancel': channel(z.object({ jobId: z.string().min(1).max(100) }).strict(), GenerateJobView),
  /**
   * A run's image or volume artefact (evaluation image triples, saved Generate panels, translated
   * NIfTI volumes) as a data URL; only files inside the home's runs folder are served.
   */
  'generate.artefactData': channel(
    z.object({ artefactId: Id }).strict(),
    z.object({ artefactId: Id, kind: z.string(), fileName: z.string(), mime: z.string(), dataUrl: z.string(), meta: JsonObject }),
  ),
  /** Sampling jobs of the answering process (queued, running, and recently finished). */
  'generate.jobs': channel(Empty, z.object({ jobs: z.array(GenerateJobView.pick({ jobId: true, kind: true, runId: true, state: true, progress: true, backend: true, error: true })) })),
} as const;

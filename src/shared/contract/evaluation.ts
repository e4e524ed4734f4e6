import { z } from 'zod';
import { channel, FiniteOrNull, Id, SplitName } from './common';
import { Run, RunStatus } from './runs';
import { SamplingFields } from './sampling';

/**
 * Evaluation runs: a trained run of any stage scored on a split: an autoencoder on its
 * reconstructions, an LDM on unconditional samples (Frechet distance, diversity), a ControlNet on
 * translations against the model-free baselines and the autoencoder ceiling.
 */

export const EvaluatedStage = z.enum(['autoencoder', 'ldm', 'controlnet']);

/** A Frechet distance on a named feature network, or why there is none. */
export const FrechetReport = z.object({
  computed: z.boolean(),
  /** frechet_distance[<network>:<layer>] */
  name: z.string().nullable(),
  value: FiniteOrNull,
  network: z.string().nullable(),
  sha256: z.string().nullable(),
  samples: z.number().int(),
  realImages: z.number().int(),
  featureDim: z.number().int().nullable(),
  reason: z.string().nullable(),
  /** Set when there are too few samples for a full-rank covariance: the value is biased. */
  warning: z.string().nullable(),
  realFeaturesCached: z.boolean(),
});

export const SampleQuality = z.object({
  samples: z.number().int(),
  frechet: FrechetReport,
  /** Mean MS-SSIM over ordered sample pairs (lower = more diverse). */
  diversity: z.object({ name: z.literal('ms_ssim_diversity'), mean: FiniteOrNull, std: FiniteOrNull, samples: z.number().int(), orderedPairs: z.number().int() }).nullable(),
});

export const EvaluationMetricStats = z.object({
  name: z.string(),
  mean: FiniteOrNull,
  /** Population std (ddof 0) over images, as the reference reports. */
  std: FiniteOrNull,
  min: FiniteOrNull,
  max: FiniteOrNull,
  n: z.number().int(),
  missing: z.number().int(),
});

export const EvaluationResults = z.object({
  runId: Id,
  runName: z.string().nullable(),
  status: RunStatus,
  /** The evaluated run and its stage. */
  modelRunId: Id.nullable(),
  stage: EvaluatedStage,
  /** The dataset evaluated on. */
  datasetId: Id.nullable(),
  /** LDM evaluations: Frechet distance and diversity of the samples. */
  sampleQuality: SampleQuality.nullable(),
  /** ControlNet evaluations: the guidance, conditioning scale and samples per slice used. */
  sampling: z
    .object({
      guidanceScale: FiniteOrNull,
      conditioningScale: FiniteOrNull,
      samplesPerSlice: z.number().int().nullable(),
      /** Outputs zeroed outside the FLAIR's brain; absent in evaluations stored before the option. */
      brainMask: z.boolean().nullable().optional(),
    })
    .nullable(),
  split: z.string(),
  images: z.number().int(),
  /** psnr, mae, ms_ssim (+ psnr_lesion, mae_lesion, ssim_lesion and *_nonlesion with lesion masks). */
  model: z.array(EvaluationMetricStats),
  /** baseline_lut, baseline_histmatch (model-free), ceiling_autoencoder (reconstruction of the real T1w) and posterior_mean (mean of K samples): the same columns. */
  baselines: z.record(z.string(), z.array(EvaluationMetricStats)),
  secondsPerSlice: FiniteOrNull,
  normalisation: z.object({ method: z.string(), percentiles: z.array(z.number()).nullable(), slices: z.string() }).nullable(),
  steps: z.number().int().nullable(),
  seed: z.number().int().nullable(),
  backend: z.string().nullable(),
  notes: z.array(z.string()),
  /** Per image (with perImage): index (= metric step), subject, LAS z, seed, the FLAIR | generated | real T1w PNG. */
  perImage: z
    .array(
      z.object({
        index: z.number().int(),
        subject: z.string(),
        z: z.number().int(),
        mniZ: FiniteOrNull,
        seed: z.number().int(),
        imagePath: z.string().nullable(),
        values: z.record(z.string(), FiniteOrNull),
      }),
    )
    .optional(),
});
export type EvaluationResults = z.infer<typeof EvaluationResults>;

export const evaluateChannels = {
  /** Evaluates a run of any stage on a split: creates an 'evaluation' run (parent = the evaluated run) and its job. */
  'evaluate.start': channel(
    z
      .object({
        ...SamplingFields,
        /** Another prepared dataset (id or name) to evaluate on; default the run's training dataset. */
        dataset: z.union([Id, z.string().min(1).max(200)]).optional(),
        /** LDM runs: unconditional samples to draw (default 16); ControlNet runs: samples per slice, their mean scored as posterior_mean (default 1). */
        samples: z.number().int().min(1).max(10000).optional(),
        /** LDM runs: a TF.js layers model.json whose features the Frechet distance uses. */
        features: z.string().min(1).max(4096).optional(),
        /** The layer of that network to pool (default: its deepest feature map). */
        featureLayer: z.string().min(1).max(200).optional(),
        split: z.enum(['train', 'validation', 'test']).optional(),
        /** Only the first K slices of the split. */
        limit: z.number().int().positive().optional(),
        saveImages: z.boolean().optional(),
        name: z.string().max(200).optional(),
        experimentId: Id.optional(),
      })
      .strict(),
    z.object({ run: Run, jobId: z.string() }),
  ),
  /** Mean +- population std per metric of an evaluation run (model and baselines), optionally per image. */
  'evaluate.results': channel(z.object({ runId: Id, split: SplitName.optional(), perImage: z.boolean().optional() }).strict(), EvaluationResults),
  'evaluate.compare': channel(
    z.object({ runIds: z.array(Id).min(1).max(50), split: SplitName.optional() }).strict(),
    z.object({ results: z.array(EvaluationResults) }),
  ),
  /** CSV text (summary rows per run and metric, or per-image rows) for the renderer to offer as a download. */
  'evaluate.exportCsv': channel(
    z.object({ runIds: z.array(Id).min(1).max(50), split: SplitName.optional(), kind: z.enum(['summary', 'per-image']).optional() }).strict(),
    z.object({ csv: z.string(), rows: z.number().int() }),
  ),
} as const;

import { z } from 'zod';
import { channel, FiniteOrNull, Id, SplitName } from './common';
import { Run, RunStatus } from './runs';
import { SamplingFields } from './sampling';

/** Evaluation runs: a ControlNet run scored on a split against the model-free baselines. */

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
  /** The evaluated ControlNet run. */
  modelRunId: Id.nullable(),
  split: z.string(),
  images: z.number().int(),
  /** psnr, mae, ms_ssim (+ psnr_lesion, mae_lesion, ssim_lesion and *_nonlesion with lesion masks). */
  model: z.array(EvaluationMetricStats),
  /** baseline_lut, baseline_histmatch: the same columns for the model-free baselines. */
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
  /** Evaluates a ControlNet run on a split: creates an 'evaluation' run (parent = the ControlNet run) and its job. */
  'evaluate.start': channel(
    z
      .object({
        ...SamplingFields,
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

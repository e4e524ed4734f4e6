import { z } from 'zod';

/**
 * THE IPC contract: every request/response channel and every push event, defined once.
 * The preload's `window.api`, the main-process handlers and the browser bridge are all derived
 * from (and validated against) these objects, so they cannot drift apart.
 *
 * Adding a capability = adding entries to `channels` / `events` below (plus a handler in
 * src/main/ipc/handlers.ts). Channel names are `group.method`; the client exposes them as
 * `api.group.method(request)`. Payloads are plain JSON (timestamps are ISO-8601 strings).
 *
 * This module imports nothing but zod: it is loaded by main, preload, renderer and CLI alike.
 */

// ---------------------------------------------------------------------------------------------
// Domain schemas
// ---------------------------------------------------------------------------------------------

export const RunStage = z.enum(['autoencoder', 'ldm', 'controlnet', 'evaluation']);
export type RunStage = z.infer<typeof RunStage>;

export const RunStatus = z.enum(['created', 'queued', 'running', 'completed', 'failed', 'cancelled']);
export type RunStatus = z.infer<typeof RunStatus>;

const Id = z.number().int().positive();
const IsoTime = z.string();
const JsonObject = z.record(z.string(), z.unknown());
const MetricName = z.string().min(1).max(200);
const SplitName = z.string().min(1).max(64);

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
});
export type Run = z.infer<typeof Run>;

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
  state: z.enum(['queued', 'running', 'completed', 'failed']),
  phase: z.string(),
  done: z.number(),
  total: z.number().nullable(),
  datasetId: Id.nullable(),
  error: z.string().nullable(),
  createdAt: IsoTime,
  finishedAt: IsoTime.nullable(),
});
export type DataJob = z.infer<typeof DataJob>;

export const AppInfo = z.object({
  name: z.string(),
  version: z.string(),
  home: z.string(),
  dbPath: z.string(),
  schemaVersion: z.number().int(),
  platform: z.string(),
  nodeVersion: z.string(),
  /** Which side answers: the Electron main process or the `brainsynth serve` bridge. */
  host: z.enum(['electron', 'bridge', 'cli', 'test']),
});
export type AppInfo = z.infer<typeof AppInfo>;

/** Training detail carried by 'job.progress' for training jobs (live curves, ETA, memory). */
export const TrainingProgress = z.object({
  stage: z.enum(['autoencoder', 'ldm', 'controlnet']),
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

export const TrainStage = z.enum(['autoencoder', 'ldm', 'controlnet']);

/** A training job of the answering process: queued or running. */
export const JobInfo = z.object({
  runId: Id,
  stage: TrainStage,
  state: z.enum(['queued', 'running']),
  backend: z.string().nullable(),
  progress: TrainingProgress.nullable(),
});
export type JobInfo = z.infer<typeof JobInfo>;

// Sampling (Generate view, whole-volume translation, evaluation runs): engineer G's services in
// src/main/services/generate.ts and evaluate.ts. Heavy work runs as a sampling job (worker
// thread); progress arrives as 'job.progress' with kind 'generate' | 'translate' | 'evaluate'.
// Metric values that are not finite (empty lesion region, identical images) are sent as null.

const SamplerKind = z.enum(['ddim', 'ddpm']);
const SamplingFields = {
  /** The trained ControlNet run. */
  runId: Id,
  /** Denoising steps (DDIM default 200, the reference; DDPM default 1000). */
  steps: z.number().int().min(1).max(1000).optional(),
  /** Classifier-free guidance scale (default: the run's, reference 7). */
  guidanceScale: z.number().min(0).max(100).optional(),
  /** ControlNet conditioning scale (default: the run's, reference 1). */
  conditioningScale: z.number().min(0).max(10).optional(),
  sampler: SamplerKind.optional(),
  /** Image k uses seed + k (slice z of a volume uses seed + z). */
  seed: z.number().int().min(0).max(2 ** 31).optional(),
  batch: z.number().int().min(1).max(64).optional(),
  checkpoint: z.enum(['last', 'best']).optional(),
  backend: z.string().max(64).optional(),
};
const FiniteOrNull = z.number().nullable();
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

// ---------------------------------------------------------------------------------------------
// Request/response channels
// ---------------------------------------------------------------------------------------------

const Empty = z.object({}).strict();
const ById = z.object({ id: Id }).strict();
const ByRunId = z.object({ runId: Id }).strict();

/** The most points one metrics.append call may carry (bigger bursts: send several calls). */
export const MAX_METRIC_BATCH = 100_000;

function channel<Req extends z.ZodType, Res extends z.ZodType>(request: Req, response: Res) {
  return { request, response };
}

export const channels = {
  'app.info': channel(Empty, AppInfo),

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
  /** A PNG artefact (image triple, saved panel) as a data URL: the renderer never reads files itself. */
  'artefacts.image': channel(ById, z.object({ id: Id, width: z.number().int(), height: z.number().int(), dataUrl: z.string() })),

  /** Starts a training run (validated before any work; refused with the reason). */
  'jobs.start': channel(
    z
      .object({
        stage: TrainStage,
        datasetId: Id,
        preset: z.enum(['desktop', 'reference']),
        parentRunId: Id.optional(),
        epochs: z.number().int().positive().max(100_000).optional(),
        seed: z.number().int().optional(),
        backend: z.string().max(64).optional(),
        /** `key=value` config overrides (dotted paths), as the CLI's --set. */
        overrides: z.array(z.string().max(2000)).max(200).optional(),
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
   * the reference preset's values, and jobs.start's refusal (null = it would start). Writes nothing.
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
    z.object({ base: JsonObject.nullable(), reference: JsonObject.nullable(), config: JsonObject.nullable(), error: z.string().nullable() }),
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
          stage: z.string(),
          status: z.string(),
          datasetId: Id.nullable(),
          imageSize: z.array(z.number()).nullable(),
          finishedAt: IsoTime.nullable(),
        }),
      ),
    }),
  ),

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
  'datasets.import': channel(z.object({ dir: z.string().min(1).max(4096), name: z.string().min(1).max(200) }).strict(), DataJob),
  'datasets.phantom': channel(
    z.object({ subjects: z.number().int().min(1).max(200), name: z.string().min(1).max(200), seed: z.number().int().optional() }).strict(),
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
      })
      .strict(),
    DataJob,
  ),
  'datasets.fetchOpenMs': channel(
    z.object({ name: z.string().min(1).max(200).optional(), subjects: z.array(z.string().max(64)).max(64).optional(), baseUrl: z.string().url().optional() }).strict(),
    DataJob,
  ),
  'datasets.jobs': channel(Empty, z.object({ jobs: z.array(DataJob) })),

  // --- Cluster jobs (train a stage with torchrun + MONAI elsewhere, import the run) -------------
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

// ---------------------------------------------------------------------------------------------
// Push events (main -> renderer)
// ---------------------------------------------------------------------------------------------

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
  /** New metric points were committed for a run. */
  'metrics.appended': z.object({
    runId: Id,
    count: z.number().int(),
    names: z.array(z.string()),
    lastStep: z.number().int(),
  }),
  /** A run was created or changed (status, error, ...). */
  'run.updated': z.object({ run: Run }),
  /** A dataset job (import, phantom, prepare, fetch) changed state or progressed. */
  'data.job': DataJob,
  /** A dataset was imported, prepared or deleted. */
  'dataset.updated': z.object({ datasetId: Id, deleted: z.boolean().optional() }),
} as const;

// ---------------------------------------------------------------------------------------------
// Derived types
// ---------------------------------------------------------------------------------------------

export type Channels = typeof channels;
export type ChannelName = keyof Channels;
export type RequestOf<C extends ChannelName> = z.input<Channels[C]['request']>;
export type ParsedRequestOf<C extends ChannelName> = z.output<Channels[C]['request']>;
export type ResponseOf<C extends ChannelName> = z.output<Channels[C]['response']>;

export type Events = typeof events;
export type EventName = keyof Events;
export type EventPayload<E extends EventName> = z.output<Events[E]>;
export type EventMap = { [E in EventName]: EventPayload<E> };

export function isChannelName(name: unknown): name is ChannelName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(channels, name);
}

export function isEventName(name: unknown): name is EventName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(events, name);
}

// ---------------------------------------------------------------------------------------------
// Wire envelope: every invoke answers with one of these, over Electron IPC and WebSocket alike,
// so errors keep their code and field list instead of Electron's "Error invoking remote method".
// ---------------------------------------------------------------------------------------------

export const ErrorCode = z.enum(['unknown_channel', 'invalid_request', 'invalid_response', 'not_found', 'conflict', 'failed']);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const WireError = z.object({
  code: ErrorCode,
  message: z.string(),
  channel: z.string().optional(),
  /** For invalid_request: each problem with its dotted field path. */
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
export type WireError = z.infer<typeof WireError>;

export type Envelope<T = unknown> = { ok: true; data: T } | { ok: false; error: WireError };

export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly channel?: string;
  readonly issues?: WireError['issues'];
  constructor(error: WireError) {
    super(error.message);
    this.name = 'ApiError';
    this.code = error.code;
    this.channel = error.channel;
    this.issues = error.issues;
  }
}

// ---------------------------------------------------------------------------------------------
// Client: the typed `window.api`, built from any transport
// ---------------------------------------------------------------------------------------------

/** How a client reaches main: Electron ipcRenderer (preload) or a WebSocket (bridge-client). */
export interface Transport {
  invoke(channel: ChannelName, payload: unknown): Promise<Envelope>;
  subscribe(event: EventName, listener: (payload: unknown) => void): () => void;
}

type GroupOf<C> = C extends `${infer G}.${string}` ? G : never;
type MethodOf<C, G extends string> = C extends `${G}.${infer M}` ? M : never;
type MethodFn<C extends ChannelName> = Record<never, never> extends RequestOf<C>
  ? (request?: RequestOf<C>) => Promise<ResponseOf<C>>
  : (request: RequestOf<C>) => Promise<ResponseOf<C>>;

export type Api = {
  [G in GroupOf<ChannelName>]: { [M in MethodOf<ChannelName, G>]: MethodFn<Extract<`${G}.${M}`, ChannelName>> };
} & {
  /** Subscribes to a push event; returns the unsubscribe function. */
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void;
  /** Generic form of every method, for code that picks the channel at run time. */
  invoke<C extends ChannelName>(channel: C, request: RequestOf<C>): Promise<ResponseOf<C>>;
};

export function unwrap<T>(channel: string, envelope: Envelope<T> | unknown): T {
  const env = envelope as Envelope<T> | undefined;
  if (env && typeof env === 'object' && 'ok' in env) {
    if (env.ok) return env.data;
    throw new ApiError(env.error);
  }
  throw new ApiError({ code: 'failed', channel, message: `${channel}: malformed reply from main process` });
}

export function createApi(transport: Transport): Api {
  const invoke = async <C extends ChannelName>(channelName: C, request: RequestOf<C>): Promise<ResponseOf<C>> =>
    unwrap<ResponseOf<C>>(channelName, await transport.invoke(channelName, request ?? {}));

  const api: Record<string, unknown> = {
    on: <E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void) =>
      transport.subscribe(event, listener as (payload: unknown) => void),
    invoke,
  };
  for (const name of Object.keys(channels) as ChannelName[]) {
    const [group, method] = name.split('.') as [string, string];
    const target = (api[group] ??= {}) as Record<string, unknown>;
    target[method] = (request?: unknown) => invoke(name, (request ?? {}) as RequestOf<typeof name>);
  }
  return api as Api;
}

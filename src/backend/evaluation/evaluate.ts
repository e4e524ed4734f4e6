/**
 * Evaluation runs: a trained run of any stage evaluated on one split of its dataset (or another
 * prepared dataset) becomes a new run with stage 'evaluation' (parent = the evaluated run, role =
 * its stage). An autoencoder run is scored on its reconstructions of the real T1w slices, an LDM
 * run on unconditional samples (Frechet distance on a named feature network, MS-SSIM diversity),
 * a ControlNet run on translations. Stored for a ControlNet run (the others store the same kinds):
 *  - metrics rows, one per image and metric: step = image index, split = the evaluated split,
 *    names psnr, mae, ms_ssim (+ psnr_lesion, mae_lesion, ssim_lesion, *_nonlesion with lesion
 *    masks) for the model and baseline_lut_<metric>, baseline_histmatch_<metric> for the
 *    model-free baselines (fitted on the train split);
 *  - artefacts: one 'image' per evaluated slice (FLAIR | generated | real T1w, meta: index,
 *    subject, z, seed) and one 'evaluation-summary' JSON (runs/<id>/evaluation.json: summaries,
 *    per-image subject/z, sampling time, normalisation, backend, notes).
 * Summaries are mean ± population std (np.std, ddof 0) over the images, as the reference reports.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MetricPoint, ParsedRequestOf, Run } from '../../shared/contract';
import { writeFileAtomic } from '../../ml/io';
import { summarize, type MetricSummary } from '../../ml/metrics';
import { readPreparedIndex } from '../../ml/data/prepare';
import { STD_MAP_GAIN, type EvaluatedStage } from '../../ml/sample/evaluation';
import type { EvaluateJobSpec, SampleJobResult } from '../../ml/sample/jobs';
import type { DiversityReport, FrechetReport } from '../../ml/sample/sample-quality';
import { InvalidInputError } from '../errors';
import type { SampleJobs } from '../sampling/sample-jobs';
import { lesionMaskPaths, preparedData, resolveAutoencoderRun, resolveModel, type ResolvedModel } from '../sampling/models';
import type { SamplingDeps } from '../sampling/deps';

/** An evaluate.start request, as the contract parses it. */
export type EvaluateRequest = ParsedRequestOf<'evaluate.start'>;

/** One metric column's summary over the evaluated images (the metrics module's summarize). */
export interface MetricStats extends MetricSummary {
  name: string;
}

export interface EvaluationImageRow {
  index: number;
  subject: string;
  z: number;
  mniZ: number;
  seed: number;
  imagePath: string | null;
  values: Record<string, number | null>;
}

/** An LDM evaluation's sample-quality scores. */
export interface SampleQuality {
  samples: number;
  frechet: FrechetReport;
  diversity: DiversityReport | null;
}

export interface EvaluationResults {
  runId: number;
  runName: string | null;
  status: Run['status'];
  /** The evaluated run and its stage. */
  modelRunId: number | null;
  stage: EvaluatedStage;
  /** The dataset evaluated on. */
  datasetId: number | null;
  sampleQuality: SampleQuality | null;
  /** Guidance, conditioning scale and samples per slice used (ControlNet evaluations). */
  sampling: SamplingSettingsUsed | null;
  split: string;
  images: number;
  /** The model's own columns (psnr, mae, ms_ssim, lesion variants). */
  model: MetricStats[];
  /** Per baseline (baseline_lut, baseline_histmatch): the same columns. */
  baselines: Record<string, MetricStats[]>;
  secondsPerSlice: number | null;
  normalisation: EvaluationSummaryFile['normalisation'] | null;
  steps: number | null;
  seed: number | null;
  backend: string | null;
  notes: string[];
  perImage?: EvaluationImageRow[];
}

export interface EvaluationSummaryFile {
  format: 'brainsynth-evaluation';
  version: 1;
  /** Absent in files written before other stages could be evaluated (= controlnet). */
  stage?: EvaluatedStage;
  sampleQuality?: SampleQuality;
  sampling?: SamplingSettingsUsed;
  split: string;
  steps: number;
  seed: number;
  backend: string;
  samplingSeconds: number;
  secondsPerSlice: number;
  normalisation: { method: string; percentiles: [number, number] | null; slices: string };
  pipeline: Record<string, unknown>;
  summary: Record<string, MetricSummary>;
  images: { index: number; subject: string; z: number; mniZ: number; seed: number; imagePath: string | null }[];
  notes: string[];
}

const SUMMARY_FILE = 'evaluation.json';
function summaryPath(services: SamplingDeps, runId: number): string {
  return join(services.home.runDir(runId), SUMMARY_FILE);
}

export class EvaluateService {
  constructor(
    private readonly services: SamplingDeps,
    private readonly host: SampleJobs,
  ) {}

  /** Creates the evaluation run (queued) and its job; results are stored when the job finishes. */
  start(req: EvaluateRequest): { run: Run; jobId: string } {
    const { services } = this;
    const split = req.split ?? 'test';
    if (!['train', 'validation', 'test'].includes(split)) throw new InvalidInputError(`split must be train, validation or test, got ${JSON.stringify(split)}`);
    const evaluated = this.evaluatedRun(req.runId);
    const stage = evaluated.stage as EvaluatedStage;
    const model: Omit<ResolvedModel, 'sources'> & { sources: EvaluateJobSpec['sources'] } =
      stage === 'autoencoder' ? resolveAutoencoderRun(services, evaluated, req.checkpoint) : resolveModel(services, req.runId, { checkpoint: req.checkpoint, allowLdm: true });
    const target = req.dataset !== undefined ? preparedData(services, req.dataset) : model;
    if (req.dataset !== undefined && !target.dataset) throw new InvalidInputError(`dataset ${JSON.stringify(req.dataset)} does not exist`);
    if (!target.datasetDir || !target.dataset) {
      throw new InvalidInputError(
        req.dataset !== undefined
          ? `dataset "${target.dataset?.name}" is not prepared; run \`brainsynth data prepare\` first`
          : `run ${req.runId}: its dataset is gone or not prepared, so there are no ${split} slices to evaluate on`,
      );
    }
    if (stage === 'autoencoder' && req.samples !== undefined) throw new InvalidInputError(`--samples draws samples of an LDM or ControlNet run; run ${req.runId} is an autoencoder run`);
    if (stage !== 'ldm' && req.features !== undefined) throw new InvalidInputError(`--features scores unconditional samples of an LDM run; run ${req.runId} is a ${stage} run`);
    const datasetNotes = differencesFromTraining(model, target);
    const seed = req.seed ?? 0;
    const steps = stage === 'autoencoder' ? 0 : (req.steps ?? 200);
    const samples = stage === 'ldm' ? (req.samples ?? 16) : stage === 'controlnet' ? (req.samples ?? 1) : null;
    const features = stage === 'ldm' && req.features ? { modelJson: req.features, layer: req.featureLayer, cacheDir: join(services.home.root, 'cache', 'features') } : undefined;
    const config = {
      evaluates: req.runId,
      stage,
      split,
      steps,
      seed,
      limit: req.limit ?? null,
      batch: req.batch ?? 4,
      sampler: req.sampler ?? 'ddim',
      guidanceScale: req.guidanceScale ?? null,
      conditioningScale: req.conditioningScale ?? null,
      brainMask: req.brainMask ?? null,
      checkpoint: req.checkpoint ?? 'last',
      samples,
      features: features ? { modelJson: features.modelJson, layer: features.layer ?? null } : null,
      datasetId: target.dataset.id,
      trainingDatasetId: model.dataset?.id ?? null,
      normalisation: target.normalisation,
      trainingNormalisation: model.normalisation,
      datasetNotes,
      metricGrid: '160x224',
      baselines: stage === 'controlnet' ? ['baseline_lut', 'baseline_histmatch', 'ceiling_autoencoder', ...(samples !== null && samples > 1 ? ['posterior_mean'] : [])] : [],
    };
    const run = services.runs.create({
      stage: 'evaluation',
      name: req.name ?? `evaluate ${stage} run ${req.runId} on ${req.dataset !== undefined ? `${target.dataset.name} ` : ''}${split}`,
      experimentId: req.experimentId ?? model.run.experimentId ?? undefined,
      datasetId: target.dataset.id,
      config,
      backend: req.backend ?? 'auto',
      seed,
      parents: [{ runId: req.runId, role: stage }],
      status: 'queued',
    });
    const runDir = services.home.runDir(run.id);
    mkdirSync(runDir, { recursive: true });
    const spec: EvaluateJobSpec = {
      kind: 'evaluate',
      stage,
      sources: model.sources,
      normalisation: target.normalisation,
      settings: { steps: stage === 'autoencoder' ? undefined : steps, sampler: req.sampler, guidanceScale: req.guidanceScale, conditioningScale: req.conditioningScale, brainMask: req.brainMask, batch: req.batch },
      backend: req.backend,
      datasetDir: target.datasetDir,
      split,
      seed,
      limit: req.limit,
      samples: samples ?? undefined,
      features,
      lesionMasks: lesionMaskPaths(target.dataset),
      imagesDir: req.saveImages === false ? undefined : join(runDir, 'images'),
    };
    // The job host keeps the run's ownership file fresh and honours `brainsynth cancel <id>` from
    // another process (runs.cancel_requested).
    let job;
    try {
      job = this.host.submit(spec, {
        runId: run.id,
        runDir,
        onStart: () => services.runs.update({ id: run.id, status: 'running' }),
        onDone: (result) => this.store(run.id, result),
        onFail: (error, j) => {
          services.runs.setCancelRequested(run.id, false);
          const current = services.runs.get(run.id);
          if (current.status === 'queued' || current.status === 'running') {
            services.runs.update({ id: run.id, status: j.state === 'cancelled' ? 'cancelled' : 'failed', error });
          }
        },
      });
    } catch (err) {
      services.runs.update({ id: run.id, status: 'failed', error: (err as Error).message });
      throw err;
    }
    return { run, jobId: job.id };
  }

  private evaluatedRun(runId: number): Run {
    try {
      return this.services.runs.get(runId);
    } catch {
      throw new InvalidInputError(`run ${runId} does not exist`);
    }
  }

  /** Stores a finished evaluation (metrics, artefacts, summary file) and completes the run. */
  store(runId: number, job: SampleJobResult): void {
    if (job.kind !== 'evaluate') throw new Error(`expected an evaluation result, got ${job.kind}`);
    const { services } = this;
    const r = job.result;
    const points: MetricPoint[] = [];
    const summary: Record<string, MetricSummary> = {};
    const tables: [string, typeof r.model][] = [['', r.model], ...Object.entries(r.baselines).map(([k, t]) => [`${k}_`, t] as [string, typeof r.model])];
    for (const [prefix, table] of tables) {
      for (const c of table.columns) {
        const name = `${prefix}${c}`;
        summary[name] = table.summary[c]!;
        table.values[c]!.forEach((value, step) => {
          // Empty lesion regions (NaN) and identical images (PSNR +inf) have no finite value to store.
          if (Number.isFinite(value)) points.push({ step, split: r.split, name, value });
        });
      }
    }
    const q = r.sampleQuality;
    if (q?.frechet.computed && q.frechet.name) points.push({ step: 0, split: r.split, name: q.frechet.name, value: q.frechet.value! });
    if (q?.diversity) points.push({ step: 0, split: r.split, name: q.diversity.name, value: q.diversity.mean });
    const datasetNotes = ((services.runs.get(runId).config as { datasetNotes?: string[] }).datasetNotes ?? []);
    const file: EvaluationSummaryFile = {
      format: 'brainsynth-evaluation',
      version: 1,
      stage: r.stage,
      ...(q ? { sampleQuality: q } : {}),
      sampling: samplingSettings(services.runs.get(runId).config, job.pipeline, r.samplesPerSlice ?? null, r.brainMask ?? null),
      split: r.split,
      steps: r.steps,
      seed: r.seed,
      backend: job.backend,
      samplingSeconds: r.samplingSeconds,
      secondsPerSlice: r.secondsPerSlice,
      normalisation: r.normalisation,
      pipeline: job.pipeline as unknown as Record<string, unknown>,
      summary,
      images: r.images.map((im) => ({ index: im.index, subject: im.subject, z: im.z, mniZ: im.mniZ, seed: im.seed, imagePath: im.imagePath })),
      notes: [...datasetNotes, ...r.notes],
    };
    const path = summaryPath(services, runId);
    mkdirSync(services.home.runDir(runId), { recursive: true });
    writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(file, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1)));
    services.store.transaction(() => {
      // Re-storing (a retried job) replaces earlier rows instead of duplicating them.
      services.artefacts.deleteForRun(runId);
      services.metrics.append(runId, points);
      services.artefacts.addMany([
        { runId, kind: 'evaluation-summary', path, meta: { split: r.split, images: r.images.length } },
        ...r.images
          .filter((im) => im.imagePath)
          .map((im) => ({
            runId,
            kind: 'image',
            path: im.imagePath!,
            step: im.index,
            meta: { split: r.split, subject: im.subject, z: im.z, mniZ: im.mniZ, seed: im.seed, layout: IMAGE_LAYOUT[r.stage] },
          })),
        ...r.images
          .filter((im) => im.stdMapPath)
          .map((im) => ({
            runId,
            kind: 'std-map',
            path: im.stdMapPath!,
            step: im.index,
            meta: { split: r.split, subject: im.subject, z: im.z, samples: r.samplesPerSlice ?? 1, gain: STD_MAP_GAIN },
          })),
      ]);
    });
    services.runs.update({ id: runId, status: 'completed', backend: job.backend });
  }

  private readSummary(runId: number): EvaluationSummaryFile | null {
    try {
      return JSON.parse(readFileSync(summaryPath(this.services, runId), 'utf8')) as EvaluationSummaryFile;
    } catch {
      return null;
    }
  }

  /** Mean ± population std per metric of an evaluation run (model and baselines apart). */
  results(runId: number, opts: { split?: string; perImage?: boolean } = {}): EvaluationResults {
    const { services } = this;
    const run = services.runs.get(runId);
    if (run.stage !== 'evaluation') throw new InvalidInputError(`run ${runId} is a ${run.stage} run, not an evaluation`);
    const file = this.readSummary(runId);
    const split = opts.split ?? file?.split ?? String((run.config as { split?: string }).split ?? 'test');
    const series = services.metrics.query(runId, { split });
    const stats = (name: string, values: number[]): MetricStats => {
      const s = summarize(values);
      return { name, mean: s.mean, std: s.std, min: s.min, max: s.max, n: s.n, missing: file?.stage === 'ldm' ? 0 : Math.max(0, (file?.images.length ?? s.n) - s.n) };
    };
    const model: MetricStats[] = [];
    const baselines: Record<string, MetricStats[]> = {};
    for (const s of series) {
      const m = /^((?:baseline|ceiling|posterior)_[a-z0-9]+)_(.+)$/.exec(s.name);
      if (m) (baselines[m[1]!] ??= []).push(stats(m[2]!, s.values));
      else model.push(stats(s.name, s.values));
    }
    const order = (a: MetricStats, b: MetricStats) => columnRank(a.name) - columnRank(b.name) || a.name.localeCompare(b.name);
    model.sort(order);
    for (const v of Object.values(baselines)) v.sort(order);
    const out: EvaluationResults = {
      runId,
      runName: run.name,
      status: run.status,
      modelRunId: run.parents[0]?.runId ?? null,
      stage: file?.stage ?? (run.config as { stage?: EvaluatedStage }).stage ?? 'controlnet',
      datasetId: run.datasetId,
      sampleQuality: file?.sampleQuality ?? null,
      sampling: file?.sampling ?? null,
      split,
      images: file?.images.length ?? Math.max(0, ...series.map((s) => s.total)),
      model,
      baselines,
      secondsPerSlice: file?.secondsPerSlice ?? null,
      normalisation: file?.normalisation ?? null,
      steps: file?.steps ?? null,
      seed: file?.seed ?? null,
      backend: file?.backend ?? run.backend,
      notes: file?.notes ?? [],
    };
    if (opts.perImage) {
      const byIndex = new Map<number, EvaluationImageRow>();
      for (const im of file?.images ?? []) byIndex.set(im.index, { ...im, values: {} });
      for (const s of series) {
        s.steps.forEach((step, i) => {
          const row = byIndex.get(step) ?? { index: step, subject: '', z: -1, mniZ: NaN, seed: -1, imagePath: null, values: {} };
          row.values[s.name] = s.values[i]!;
          byIndex.set(step, row);
        });
      }
      out.perImage = [...byIndex.values()].sort((a, b) => a.index - b.index);
    }
    return out;
  }

  /** Side-by-side results of several evaluation runs (same split by default). */
  compare(runIds: number[], split?: string): EvaluationResults[] {
    if (runIds.length === 0) throw new InvalidInputError('compare needs at least one evaluation run');
    return runIds.map((id) => this.results(id, { split }));
  }

  /**
   * CSV of one or more evaluation runs. 'summary': one row per run and metric (model and
   * baselines) with mean, std, n; 'per-image': one row per run and image with every metric.
   */
  exportCsv(runIds: number[], opts: { split?: string; kind?: 'summary' | 'per-image'; path?: string } = {}): { csv: string; path: string | null; rows: number } {
    const kind = opts.kind ?? 'summary';
    const results = runIds.map((id) => this.results(id, { split: opts.split, perImage: kind === 'per-image' }));
    const lines: string[] = [];
    if (kind === 'summary') {
      lines.push(['run_id', 'run_name', 'model_run_id', 'split', 'method', 'metric', 'mean', 'std', 'n', 'min', 'max', 'seconds_per_slice', 'normalisation'].join(','));
      for (const r of results) {
        const norm = r.normalisation ? r.normalisation.method : '';
        const emit = (method: string, s: MetricStats) =>
          lines.push([r.runId, csvText(r.runName ?? ''), r.modelRunId ?? '', r.split, method, s.name, num(s.mean), num(s.std), s.n, num(s.min), num(s.max), num(r.secondsPerSlice), norm].join(','));
        for (const s of r.model) emit('model', s);
        for (const [b, list] of Object.entries(r.baselines)) for (const s of list) emit(b, s);
      }
    } else {
      const names = [...new Set(results.flatMap((r) => (r.perImage ?? []).flatMap((row) => Object.keys(row.values))))].sort(
        (a, b) => columnRank(a) - columnRank(b) || a.localeCompare(b),
      );
      lines.push(['run_id', 'split', 'index', 'subject', 'z', 'mni_z', 'seed', ...names, 'image'].join(','));
      for (const r of results) {
        for (const row of r.perImage ?? []) {
          lines.push([r.runId, r.split, row.index, csvText(row.subject), row.z, num(row.mniZ), row.seed, ...names.map((n) => num(row.values[n] ?? null)), csvText(row.imagePath ?? '')].join(','));
        }
      }
    }
    const csv = lines.join('\n') + '\n';
    if (opts.path) writeFileAtomic(opts.path, new TextEncoder().encode(csv));
    return { csv, path: opts.path ?? null, rows: lines.length - 1 };
  }
}

/** The inference settings an evaluation used (the run's defaults filled in), for sweeps to be compared. */
export interface SamplingSettingsUsed {
  guidanceScale: number | null;
  conditioningScale: number | null;
  samplesPerSlice: number | null;
  /** Whether outputs were zeroed outside the FLAIR's brain (absent in evaluations stored before the option). */
  brainMask?: boolean | null;
}

function samplingSettings(config: unknown, pipeline: unknown, samplesPerSlice: number | null, brainMask: boolean | null): SamplingSettingsUsed {
  const c = config as { stage?: string; guidanceScale?: number | null; conditioningScale?: number | null };
  const p = pipeline as { guidanceScale?: number; conditioningScale?: number };
  if (c.stage === 'autoencoder') return { guidanceScale: null, conditioningScale: null, samplesPerSlice: null };
  // Unconditional LDM samples use the null prompt only: guidance and conditioning do not apply.
  if (c.stage === 'ldm') return { guidanceScale: null, conditioningScale: null, samplesPerSlice: null };
  return { guidanceScale: c.guidanceScale ?? p.guidanceScale ?? null, conditioningScale: c.conditioningScale ?? p.conditioningScale ?? null, samplesPerSlice, brainMask };
}

/** What each saved evaluation image shows, left to right. */
const IMAGE_LAYOUT: Record<EvaluatedStage, string[]> = {
  autoencoder: ['t1w', 'reconstruction'],
  ldm: ['sample'],
  controlnet: ['flair', 'generated', 't1w'],
};

/**
 * What differs between the data a model was trained on and the data it is evaluated on (dataset,
 * scaling, slice grid): said in the results, since metrics across such a shift are not comparable.
 */
function differencesFromTraining(model: Pick<ResolvedModel, 'dataset' | 'datasetDir' | 'normalisation'>, target: Pick<ResolvedModel, 'dataset' | 'datasetDir' | 'normalisation'>): string[] {
  const notes: string[] = [];
  if (!model.dataset || !target.dataset || model.dataset.id === target.dataset.id) return notes;
  notes.push(`evaluated on dataset "${target.dataset.name}", not the training dataset "${model.dataset.name}"`);
  const a = model.normalisation;
  const b = target.normalisation;
  const pct = (p: [number, number] | null | undefined) => (p ? ` ${p.join('/')}` : '');
  if (a.method !== b.method || pct(a.percentiles) !== pct(b.percentiles)) {
    notes.push(`intensity scaling differs: trained on ${a.method}${pct(a.percentiles)}, evaluated on ${b.method}${pct(b.percentiles)}`);
  }
  if (a.slices !== b.slices) notes.push(`slice selection differs: trained on ${a.slices ?? '?'}, evaluated on ${b.slices ?? '?'}`);
  if (model.datasetDir && target.datasetDir) {
    const ga = readPreparedIndex(model.datasetDir).index;
    const gb = readPreparedIndex(target.datasetDir).index;
    if (ga.height !== gb.height || ga.width !== gb.width) notes.push(`slice grid differs: trained on ${ga.height}x${ga.width}, evaluated on ${gb.height}x${gb.width}`);
  }
  return notes;
}

const RANK = ['psnr', 'mae', 'ms_ssim'];
function columnRank(name: string): number {
  const base = name.replace(/^(baseline|ceiling|posterior)_[a-z0-9]+_/, '');
  const i = RANK.indexOf(base);
  const group = name.startsWith('posterior_') ? 50 : name.startsWith('baseline_') ? 100 : name.startsWith('ceiling_') ? 200 : 0;
  return group + (i >= 0 ? i : 10);
}

function num(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '' : String(v);
}

function csvText(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

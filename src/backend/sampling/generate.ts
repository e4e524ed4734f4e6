/**
 * Generate service (the back end of the Generate view):
 *  - slice(): a FLAIR slice (a dataset subject + axial index z, LAS order, or a 160x224 array in
 *    [0,1]) + a ControlNet run + steps / guidance / seed / N samples -> a sampling job; result():
 *    FLAIR, real T1w (when the subject has one), every sample, mean and per-pixel std maps,
 *    |mean - real| map, as PNG data URLs, plus PSNR / MAE / MS-SSIM per sample and of the mean;
 *    save(): writes those PNGs as artefacts of the ControlNet run. A slice with (almost) no brain
 *    (hasSliceSignal) is refused before a job starts; sliceSignal() answers the same measure for
 *    every slice of a subject, for the view to warn before Start.
 *  - volume(): whole-volume translation of a FLAIR NIfTI (or a subject's FLAIR) to a T1w NIfTI
 *    on the input grid; the file is recorded as a 'volume' artefact of the ControlNet run.
 * All heavy work runs as compute jobs of the back end's job host, in a worker thread.
 */
import { existsSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { basename, join, resolve, sep } from 'node:path';
import type { Artefact, GenerateJobView as GenerateJobWire, ParsedRequestOf, Run } from '../../shared/contract';
import type { SliceJobSpec, VolumeJobSpec } from '../../ml/sample/jobs';
import { encodePng, writePng, type GrayImage } from '../../ml/io/png';
import { MIN_SIGNAL_FRACTION, SIGNAL_LEVEL, missingSignalMessage, signalFraction } from '../../ml/data/slice-signal';
import { subjectSignalProfile } from '../../ml/sample/slice';
import type { NormalisationSpec } from '../../ml/sample/volume';
import { InvalidInputError } from '../errors';
import { NotRegularFileError, readRegularFilePrefix } from '../../ml/io/regular-file';
import { EvaluateService } from '../evaluation/evaluate';
import { SampleJobs, type SampleJob } from './sample-jobs';
import { preparedData, resolveModel, subjectSliceSource, trainingData } from './models';
import { subjectOfFlairPath } from '../store/datasets';
import type { SamplingDeps } from './deps';

/** The Generate channels' requests, as the contract parses them. */
export type GenerateSliceRequest = ParsedRequestOf<'generate.slice'>;
export type GenerateVolumeRequest = ParsedRequestOf<'generate.volume'>;
export type GenerateSliceSignalRequest = ParsedRequestOf<'generate.sliceSignal'>;
/** A slice job's panels, as the contract sends them. */
export type SliceImages = NonNullable<GenerateJobWire['images']>;

/** A job as this service answers it; metric values may be non-finite until the handler maps them to null. */
export interface GenerateJobView {
  jobId: string;
  kind: SampleJob['kind'];
  runId: number | null;
  state: SampleJob['state'];
  progress: SampleJob['progress'];
  backend: string | null;
  error: string | null;
  /** Slice jobs: PNG data URLs (8-bit, value*255 truncated) of every panel. */
  images?: SliceImages;
  seeds?: number[];
  metrics?: { sample: Record<string, number>[]; mean: Record<string, number> } | null;
  seconds?: number;
  /** Volume jobs: the written NIfTI and its numbers. */
  volume?: { outPath: string; sampledSlices: number; skippedSlices: number; secondsPerSlice: number | null; artefactId: number | null };
  /** Evaluation jobs: the evaluation run. */
  evaluationRunId?: number;
}

const SIZE = { height: 160, width: 224 };
/** Artefacts sent to the window are slice panels and single volumes; refuse anything far larger. */
const MAX_ARTEFACT_BYTES = 64 * 1024 * 1024;
const SIGNAL_PROFILES_KEPT = 8;

function img(data: Float32Array, scale = 1): GrayImage {
  return { ...SIZE, data: scale === 1 ? data : data.map((v) => v * scale) };
}

/**
 * The steps a job ran when none were asked for: DDIM takes the reference's 200; DDPM walks the
 * whole training schedule, whose length this service does not know (recorded as null).
 */
function defaultSteps(sampler: string | undefined): number | null {
  return (sampler ?? 'ddim') === 'ddim' ? 200 : null;
}

function dataUrl(g: GrayImage): string {
  return `data:image/png;base64,${encodePng(g).toString('base64')}`;
}

export class GenerateService {
  private readonly volumeArtefacts = new Map<string, number>();
  private readonly signalProfiles = new Map<string, Promise<number[]>>();
  /** What a slice job was asked for, recorded with its panels when they are saved. */
  private readonly sliceRequests = new Map<string, { datasetId?: number; subject?: string; steps?: number; sampler?: string; guidanceScale?: number; conditioningScale?: number; brainMask?: boolean }>();

  constructor(
    private readonly services: SamplingDeps,
    private readonly host: SampleJobs,
  ) {}

  async slice(req: GenerateSliceRequest): Promise<{ jobId: string }> {
    const model = resolveModel(this.services, req.runId, { checkpoint: req.checkpoint });
    let source: SliceJobSpec['source'];
    let subject: { datasetId: number; subject: string } | null = null;
    if (req.flair) {
      if (req.flair.length !== 160 * 224) throw new InvalidInputError(`flair must hold 160x224 = 35840 values, got ${req.flair.length}`);
      const fraction = signalFraction(req.flair);
      if (fraction < MIN_SIGNAL_FRACTION) throw new InvalidInputError(missingSignalMessage('the given FLAIR slice', fraction));
      source = { flair: req.flair };
    } else {
      if (req.subject === undefined || req.z === undefined) throw new InvalidInputError('give a FLAIR slice (flair) or a dataset subject and slice index (subject, z)');
      const datasetId = req.datasetId ?? model.run.datasetId;
      if (datasetId === null || datasetId === undefined) throw new InvalidInputError('datasetId is required (the run has no dataset)');
      const s = subjectSliceSource(this.services, datasetId, req.subject, req.z);
      // Refused here, before a job is queued: a slice without brain would be sampled into an invented one.
      const fractions = await this.signalProfile(s, model.normalisation);
      const what = `${s.subject.label} (dataset "${s.dataset.name}") slice z=${s.z}`;
      const fraction = fractions[s.z];
      if (fraction === undefined) throw new InvalidInputError(`${what}: z is outside 0..${fractions.length - 1} (LAS axial index)`);
      if (fraction < MIN_SIGNAL_FRACTION) throw new InvalidInputError(missingSignalMessage(what, fraction));
      source = { flairPath: s.flairPath, t1wPath: s.t1wPath, lesionMaskPath: s.lesionMaskPath, z: s.z };
      subject = { datasetId, subject: s.subject.label };
    }
    const spec: SliceJobSpec = {
      kind: 'slice',
      sources: model.sources,
      normalisation: model.normalisation,
      settings: { steps: req.steps, sampler: req.sampler, guidanceScale: req.guidanceScale, conditioningScale: req.conditioningScale, brainMask: req.brainMask, batch: req.batch },
      backend: req.backend,
      source,
      seed: req.seed ?? 0,
      samples: req.samples ?? 1,
    };
    const jobId = this.host.submit(spec, { runId: req.runId }).id;
    this.sliceRequests.set(jobId, { ...(subject ?? {}), steps: req.steps, sampler: req.sampler, guidanceScale: req.guidanceScale, conditioningScale: req.conditioningScale, brainMask: req.brainMask });
    return { jobId };
  }

  /** Signal fraction of every axial FLAIR slice of a dataset subject (LAS z), normalised as the run's dataset was. */
  async sliceSignal(req: GenerateSliceSignalRequest): Promise<{ datasetId: number; subject: string; fractions: number[]; level: number; minFraction: number }> {
    // The model sees slices normalised as its training data was (generate.slice measures the same way).
    const normalisation = (req.runId !== undefined ? trainingData(this.services, this.run(req.runId)) : preparedData(this.services, req.datasetId)).normalisation;
    const s = subjectSliceSource(this.services, req.datasetId, req.subject, 0);
    const fractions = await this.signalProfile(s, normalisation);
    return { datasetId: req.datasetId, subject: s.subject.label, fractions, level: SIGNAL_LEVEL, minFraction: MIN_SIGNAL_FRACTION };
  }

  private run(runId: number): Run {
    try {
      return this.services.runs.get(runId);
    } catch {
      throw new InvalidInputError(`run ${runId} does not exist`);
    }
  }

  /**
   * A subject's per-slice signal, computed once per file version and normalisation: the view asks
   * for it when a subject is picked and generate.slice checks it again, each a read of two volumes.
   */
  private signalProfile(src: { flairPath: string; t1wPath?: string | null }, normalisation: NormalisationSpec): Promise<number[]> {
    const version = (path: string | null | undefined) => {
      if (!path) return '-';
      try {
        const st = statSync(path);
        return `${path}@${st.size}:${st.mtimeMs}`;
      } catch {
        return path;
      }
    };
    const key = `${version(src.flairPath)}|${version(src.t1wPath)}|${JSON.stringify(normalisation)}`;
    let profile = this.signalProfiles.get(key);
    if (!profile) {
      profile = subjectSignalProfile(src, normalisation).catch((err: unknown) => {
        this.signalProfiles.delete(key);
        throw new InvalidInputError(err instanceof Error ? err.message : String(err));
      });
      this.signalProfiles.set(key, profile);
      // A few subjects are enough: the view asks for the one it shows.
      while (this.signalProfiles.size > SIGNAL_PROFILES_KEPT) this.signalProfiles.delete(this.signalProfiles.keys().next().value!);
    }
    return profile;
  }

  volume(req: GenerateVolumeRequest): { jobId: string; outPath: string } {
    const model = resolveModel(this.services, req.runId, { checkpoint: req.checkpoint });
    let flairPath = req.flairPath;
    if (!flairPath) {
      if (req.subject === undefined) throw new InvalidInputError('give flairPath or a dataset subject');
      const datasetId = req.datasetId ?? model.run.datasetId;
      if (datasetId === null || datasetId === undefined) throw new InvalidInputError('datasetId is required (the run has no dataset)');
      flairPath = subjectSliceSource(this.services, datasetId, req.subject, 0).flairPath;
    }
    if (!existsSync(flairPath)) throw new InvalidInputError(`${flairPath}: no such FLAIR file`);
    const stem = basename(flairPath).replace(/\.nii(\.gz)?$/i, '').replace(/_FLAIR$/i, '');
    const outPath = resolve(req.outPath ?? join(this.services.home.runDir(req.runId), 'translations', `${stem}_T1w_synth.nii.gz`));
    mkdirSync(join(outPath, '..'), { recursive: true });
    const spec: VolumeJobSpec = {
      kind: 'volume',
      sources: model.sources,
      normalisation: model.normalisation,
      settings: { steps: req.steps, sampler: req.sampler, guidanceScale: req.guidanceScale, conditioningScale: req.conditioningScale, brainMask: req.brainMask, batch: req.batch },
      backend: req.backend,
      flairPath: resolve(flairPath),
      outPath,
      seed: req.seed ?? 0,
    };
    const job = this.host.submit(spec, {
      runId: req.runId,
      onDone: (r, j) => {
        if (r.kind !== 'volume') return;
        // The subject (when the FLAIR is a dataset's) lets the run page show the source beside the result.
        const subject = subjectOfFlairPath(this.services.store.db, spec.flairPath);
        const a = this.services.artefacts.add({
          runId: req.runId,
          kind: 'volume',
          path: r.result.outPath,
          meta: {
            source: spec.flairPath,
            ...(subject ? { datasetId: subject.datasetId, subject: subject.subject } : {}),
            seed: spec.seed,
            steps: spec.settings.steps ?? defaultSteps(spec.settings.sampler),
            sampler: spec.settings.sampler ?? 'ddim',
            guidanceScale: spec.settings.guidanceScale ?? r.pipeline.guidanceScale,
            conditioningScale: spec.settings.conditioningScale ?? r.pipeline.conditioningScale,
            brainMask: spec.settings.brainMask ?? r.pipeline.brainMask,
            sampledSlices: r.result.sampledSlices,
            secondsPerSlice: r.result.secondsPerSlice,
            modality: 'T1w (synthetic)',
          },
        });
        this.volumeArtefacts.set(j.id, a.id);
        this.services.runs.touch(req.runId);
      },
    });
    return { jobId: job.id, outPath };
  }

  result(jobId: string): GenerateJobView {
    const job = this.host.get(jobId);
    const view: GenerateJobView = { jobId, kind: job.kind, runId: job.runId, state: job.state, progress: job.progress, backend: job.backend, error: job.error };
    const r = job.result;
    if (!r) return view;
    if (r.kind === 'slice') {
      const g = r.result;
      let stdMax = 0;
      for (const v of g.std) stdMax = Math.max(stdMax, v);
      view.images = {
        ...SIZE,
        flair: dataUrl(img(r.input.flair)),
        t1w: r.input.t1w ? dataUrl(img(r.input.t1w)) : null,
        samples: g.seeds.map((_, k) => dataUrl(img(g.samples.subarray(k * 35840, (k + 1) * 35840)))),
        mean: dataUrl(img(g.mean)),
        std: dataUrl(img(g.std, stdMax > 0 ? 1 / stdMax : 1)),
        stdMax,
        absDiff: g.absDiff ? dataUrl(img(g.absDiff)) : null,
      };
      view.seeds = g.seeds;
      view.metrics = g.metrics;
      view.seconds = g.seconds;
    } else if (r.kind === 'volume') {
      view.volume = {
        outPath: r.result.outPath,
        sampledSlices: r.result.sampledSlices,
        skippedSlices: r.result.skippedSlices,
        secondsPerSlice: r.result.secondsPerSlice,
        artefactId: this.volumeArtefacts.get(jobId) ?? null,
      };
    } else {
      view.evaluationRunId = job.runId ?? undefined;
    }
    return view;
  }

  /** Writes a finished slice job's panels as PNG artefacts of its ControlNet run. */
  save(jobId: string): Artefact[] {
    const job = this.host.get(jobId);
    const r = job.result;
    if (job.state !== 'completed' || !r || r.kind !== 'slice' || job.runId === null) {
      throw new InvalidInputError(`job ${jobId} is not a finished slice generation (state ${job.state})`);
    }
    const dir = join(this.services.home.runDir(job.runId), 'generated', jobId);
    mkdirSync(dir, { recursive: true });
    const g = r.result;
    const asked = this.sliceRequests.get(jobId) ?? {};
    const meta = {
      jobId,
      ...(asked.subject !== undefined ? { datasetId: asked.datasetId, subject: asked.subject } : {}),
      z: r.input.z,
      seeds: g.seeds,
      steps: asked.steps ?? defaultSteps(asked.sampler),
      sampler: asked.sampler ?? 'ddim',
      guidanceScale: asked.guidanceScale ?? r.pipeline.guidanceScale,
      conditioningScale: asked.conditioningScale ?? r.pipeline.conditioningScale,
      brainMask: asked.brainMask ?? r.pipeline.brainMask,
      metrics: g.metrics,
    };
    const files: { name: string; image: GrayImage; role: string }[] = [
      { name: 'flair.png', image: img(r.input.flair), role: 'flair' },
      ...g.seeds.map((seed, k) => ({ name: `sample_seed${seed}.png`, image: img(g.samples.slice(k * 35840, (k + 1) * 35840)), role: 'generated' })),
    ];
    if (g.seeds.length > 1) {
      let stdMax = 0;
      for (const v of g.std) stdMax = Math.max(stdMax, v);
      files.push({ name: 'mean.png', image: img(g.mean), role: 'mean' }, { name: 'std.png', image: img(g.std, stdMax > 0 ? 1 / stdMax : 1), role: `std (scaled, max ${stdMax.toPrecision(3)})` });
    }
    if (r.input.t1w) files.push({ name: 't1w.png', image: img(r.input.t1w), role: 't1w' });
    if (g.absDiff) files.push({ name: 'absdiff.png', image: img(g.absDiff), role: 'absdiff' });
    for (const f of files) writePng(join(dir, f.name), f.image);
    const saved = this.services.artefacts.addMany(files.map((f) => ({ runId: job.runId!, kind: 'image', path: join(dir, f.name), meta: { ...meta, role: f.role, source: 'generate' } })));
    this.services.runs.touch(job.runId);
    return saved;
  }

  /**
   * The bytes of a run's image or volume artefact as a data URL, for the window (which cannot read
   * files): evaluation image triples, saved Generate panels, translated NIfTI volumes (NiiVue
   * loads the data URL). Only files inside the home's runs folder are served.
   */
  artefactData(artefactId: number): { artefactId: number; kind: string; fileName: string; mime: string; dataUrl: string; meta: Record<string, unknown> } {
    const row = this.services.artefacts.row(artefactId) as
      | { id: number; run_id: number | null; kind: string; path: string; meta: string }
      | undefined;
    if (!row) throw new InvalidInputError(`artefact ${artefactId} does not exist`);
    if (!existsSync(row.path)) throw new InvalidInputError(`artefact ${artefactId}: ${row.path} no longer exists`);
    const runsDir = realpathSync(this.services.home.runsDir) + sep;
    const real = realpathSync(row.path);
    if (!real.startsWith(runsDir)) throw new InvalidInputError(`artefact ${artefactId} is not a file of a run in this home; it is not served to the window`);
    let bytes: Buffer;
    try {
      // Never more than the limit (plus one byte to notice an oversized file), never from a pipe.
      bytes = readRegularFilePrefix(real, MAX_ARTEFACT_BYTES + 1);
    } catch (err) {
      if (err instanceof NotRegularFileError) throw new InvalidInputError(`artefact ${artefactId}: ${err.message}`);
      throw err;
    }
    if (bytes.length > MAX_ARTEFACT_BYTES) throw new InvalidInputError(`artefact ${artefactId}: ${real} is too large to send to the window (limit ${MAX_ARTEFACT_BYTES} bytes)`);
    const lower = real.toLowerCase();
    const mime = lower.endsWith('.png') ? 'image/png' : lower.endsWith('.json') ? 'application/json' : lower.endsWith('.nii.gz') ? 'application/gzip' : 'application/octet-stream';
    return {
      artefactId,
      kind: row.kind,
      fileName: basename(real),
      mime,
      dataUrl: `data:${mime};base64,${bytes.toString('base64')}`,
      meta: JSON.parse(row.meta) as Record<string, unknown>,
    };
  }

  cancel(jobId: string): GenerateJobView {
    this.host.cancel(jobId);
    return this.result(jobId);
  }
}

export interface SampleServices {
  host: SampleJobs;
  generate: GenerateService;
  evaluate: EvaluateService;
}

/**
 * Sampling services over a back end's job host. The back end wires one set (backend.sampling);
 * a CLI command that samples in its own thread builds its own with `inProcess`.
 */
export function createSampleServices(services: SamplingDeps, opts: { inProcess?: boolean } = {}): SampleServices {
  const host = new SampleJobs(services.events, { host: services.host, ...opts });
  return { host, generate: new GenerateService(services, host), evaluate: new EvaluateService(services, host) };
}

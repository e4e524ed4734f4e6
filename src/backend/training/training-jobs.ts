import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset, EventMap, Job, JobInfo, ParsedRequestOf, Run, TrainingProgress } from '../../shared/contract';
import { checkpointDir, readCheckpointMeta, repairCheckpoints } from '../../ml/pipeline/checkpoint';
import { diskError } from '../../ml/io/fs-errors';
import type { TrainConfig, TrainPreset } from '../../ml/train/config';
import type { MetricOut, TrainProgress, TrainResult, TrainStage } from '../../ml/train/session';
import type { TrainJobSpec } from '../../ml/train/spec';
import type { ParentRunInfo } from '../../ml/train/validate';
import type { TrainJobResult, TrainWorkerEvent } from './worker-protocol';
import { evaluateTrainForm } from './train-form';
import { ConflictError, InvalidInputError, NotFoundError } from '../errors';
import type { EventHub } from '../events';
import type { HomeLayout } from '../home';
import type { Store } from '../store';
import type { RunsService } from '../runs/runs';
import type { MetricsService } from '../runs/metrics';
import type { CheckpointsService } from '../runs/checkpoints';
import type { ArtefactsService } from '../runs/artefacts';
import { preparedDatasetDir } from '../data/prepared-dir';
import { JobHost, type JobWorkerFactory } from '../jobs/host';
import { DEFAULT_STALE_AFTER_MS, ownerAlive, readOwner, removeOwner } from '../jobs/ownership';

/**
 * Training runs as jobs of the back end's job host (kind 'train', compute lane): this service
 * validates and creates the run, submits the job, and is the only database writer for it
 * (metrics in batches, checkpoints, artefacts, status), pushing 'job.progress' with the training
 * detail the live views draw. The host keeps `runs/<id>/job.json` fresh and honours
 * runs.cancel_requested, so `brainsynth cancel` from another process stops a job. A run left
 * 'queued'/'running' by a dead process is marked failed at startup (recoverStale) and can be
 * resumed from its last checkpoint.
 */

/** A jobs.start request, as the contract parses it. */
export type StartTrainingRequest = ParsedRequestOf<'jobs.start'>;

export interface JobOutcome {
  run: Run;
  result: TrainResult | null;
  summary: Record<string, unknown> | null;
}

/** What the training service needs from the back end (wired in openBackend). */
export interface TrainingDeps {
  home: HomeLayout;
  store: Store;
  events: EventHub<EventMap>;
  runs: RunsService;
  metrics: MetricsService;
  checkpoints: CheckpointsService;
  artefacts: ArtefactsService;
  datasets: { get(id: number): Dataset };
  /** The back end's job host; a service built without one (tests) gets its own. */
  host?: JobHost;
}

export interface JobsOptions {
  /** Creates the worker thread when this service builds its own host (tests capture it to kill it). */
  createWorker?: JobWorkerFactory;
  /** How often the cancel flag and heartbeat are refreshed (ms), for a host built here. */
  pollMs?: number;
  /** Metric points are written at least this often (ms), and always before a checkpoint. */
  flushMs?: number;
  /** Heartbeats older than this mark an owner as dead (ms). */
  staleAfterMs?: number;
  /** Progress listener in the same process (the CLI's progress bar). */
  onProgress?: (runId: number, p: TrainProgress) => void;
  /**
   * Tests only: hold a job before its next step once it has done this many steps (undefined: never),
   * until release() or cancel(). Default: BRAINSYNTH_TEST_HOLD_AT_STEP, so tests can gate the CLI's
   * jobs in a child process too.
   */
  holdAtStep?: (job: { runId: number; resume: boolean }) => number | undefined;
  /**
   * Tests only: hold a job at the checkpoint of this step, once the host has stored everything
   * logged up to it and before it becomes the resume point (the boundary a crash test kills at).
   * Default: BRAINSYNTH_TEST_HOLD_AT_CHECKPOINT.
   */
  holdAtCheckpoint?: (job: { runId: number; resume: boolean }) => number | undefined;
}

/** An environment test hold (e.g. BRAINSYNTH_TEST_HOLD_AT_STEP=N), applied to every job of this process. */
function holdFromEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new InvalidInputError(`${name} must be a step count, got '${raw}'`);
  return n;
}

interface ActiveJob {
  runId: number;
  stage: TrainStage;
  jobId: string;
  running: boolean;
  progress: TrainProgress | null;
  backend: string | null;
  pending: MetricOut[];
  lastFlush: number;
  resolve: (o: JobOutcome) => void;
  promise: Promise<JobOutcome>;
  result: TrainResult | null;
  summary: Record<string, unknown> | null;
  holdAtStep: number | undefined;
  heldAt: number | null;
  heldWaiters: ((step: number) => void)[];
}

function toTrainingProgress(p: TrainProgress, backend: string | null): TrainingProgress {
  return {
    stage: p.stage,
    epoch: p.epoch,
    epochs: p.epochs,
    step: p.step,
    totalSteps: p.totalSteps,
    losses: p.losses,
    stepsPerSecond: p.stepsPerSecond,
    memory: p.memory,
    backend,
  };
}

export class TrainingJobs {
  private readonly jobs = new Map<number, ActiveJob>();
  private readonly host: JobHost;
  private readonly ownHost: boolean;
  private closed = false;
  private releaseOnSignal = false;

  constructor(
    private readonly services: TrainingDeps,
    private readonly opts: JobsOptions = {},
  ) {
    this.ownHost = !services.host;
    this.host =
      services.host ??
      new JobHost(services.events, { createWorker: opts.createWorker, pollMs: opts.pollMs, cancelRequested: (runId) => services.runs.cancelRequested(runId) });
    try {
      this.recoverStale();
    } catch {
      /* a read-only store cannot be repaired; the next writer will do it */
    }
  }

  private runDir(runId: number): string {
    return this.services.home.runDir(runId);
  }

  // -------------------------------------------------------------------------------------------
  // Requests
  // -------------------------------------------------------------------------------------------

  /**
   * Validates, creates the run (queued) and enqueues it. Invalid configs are refused before any
   * work. The engine (networks, tfjs) is loaded on first use only, so commands that never train
   * (runs list, cancel) stay quick.
   */
  async start(req: StartTrainingRequest): Promise<Run> {
    const { buildTrainConfig, resolvePerceptual, validateTrainConfig } = await import('../../ml/train/validate');
    const { runs, datasets } = this.services;
    const datasetDir = this.resolveDatasetDir(req.datasetId);
    const parent = req.parentRunId !== undefined ? this.parentInfo(req.parentRunId) : undefined;
    let config: TrainConfig;
    try {
      config = buildTrainConfig({
        stage: req.stage,
        preset: req.preset,
        epochs: req.epochs,
        seed: req.seed,
        overrides: req.overrides ?? [],
        parent,
      });
      validateTrainConfig(config, { parent, datasetDir });
      config = await resolvePerceptual(config);
    } catch (err) {
      throw new InvalidInputError((err as Error).message);
    }
    const dataset = datasets.get(req.datasetId);
    const parents =
      req.parentRunId !== undefined ? [{ runId: req.parentRunId, role: parent!.stage }] : [];
    const run = runs.create({
      stage: req.stage,
      name: req.name ?? `${req.stage} ${req.preset} on ${dataset.name}`,
      experimentId: req.experimentId,
      datasetId: req.datasetId,
      config: config as unknown as Record<string, unknown>,
      backend: req.backend ?? 'auto',
      seed: config.loop.seed,
      parents,
      status: 'queued',
    });
    const spec: TrainJobSpec = {
      runId: run.id,
      runDir: this.runDir(run.id),
      datasetDir,
      config,
      parents: this.parentDirs(req.parentRunId),
      resume: false,
      backend: req.backend ?? 'auto',
    };
    this.enqueue(spec);
    return run;
  }

  /**
   * The validated config a start() with these arguments would use, and the reference preset's
   * config for the same stage (the Train view shows reference values beside each field).
   */
  async previewConfig(req: {
    stage: TrainStage;
    preset: TrainPreset;
    datasetId?: number;
    parentRunId?: number;
    overrides?: string[];
  }): Promise<{ config: Record<string, unknown>; reference: Record<string, unknown> }> {
    const answer = await evaluateTrainForm(req, { parent: (id) => this.parentInfo(id), datasetDir: (id) => this.resolveDatasetDir(id) });
    if (answer.error !== null) throw new InvalidInputError(answer.error);
    if (!answer.config || !answer.reference) throw new InvalidInputError(`${req.stage}: the ${req.preset} preset or its reference could not be built`);
    return { config: answer.config, reference: answer.reference };
  }

  /**
   * Continues a failed or cancelled run from its last checkpoint (same run, same step numbers):
   * metrics and images logged after that checkpoint are deleted first, then recomputed. A run that
   * stopped before its first checkpoint starts again from step 0.
   */
  resume(runId: number): Run {
    const { runs } = this.services;
    const run = runs.get(runId);
    if (run.stage === 'evaluation') throw new InvalidInputError(`run ${runId} is an evaluation, not a training run`);
    if (this.jobs.has(runId)) throw new ConflictError(`run ${runId} is already ${this.jobs.get(runId)!.running ? 'running' : 'queued'} here`);
    if (run.status === 'running' || run.status === 'queued') {
      if (this.ownerAlive(runId)) throw new ConflictError(`run ${runId} is ${run.status} in another process (pid ${readOwner(this.runDir(runId))?.pid})`);
      this.markInterrupted(run);
    }
    const current = runs.get(runId);
    if (current.status === 'completed') throw new ConflictError(`run ${runId} is already completed`);
    if (current.status !== 'failed' && current.status !== 'cancelled') {
      throw new ConflictError(`run ${runId} is '${current.status}'; only failed or cancelled runs can be resumed`);
    }
    const config = current.config as unknown as TrainConfig;
    if (!config.loop || config.stage !== current.stage) throw new InvalidInputError(`run ${runId} has no training config to resume with`);
    if ((current.config as { cluster?: { folder?: string } }).cluster) {
      // A cluster run's optimiser state lives in its job folder: it continues where it ran.
      const folder = (current.config as { cluster: { folder?: string } }).cluster.folder ?? 'its job folder';
      throw new InvalidInputError(`run ${runId} was trained on a cluster; continue it there (${folder}/launch.sh --resume), then import it again`);
    }
    if (current.datasetId === null) throw new InvalidInputError(`run ${runId}: its dataset was deleted`);
    const runDir = this.runDir(runId);
    this.reconcileCheckpoints(runId);
    const dir = checkpointDir(runDir, 'last');
    const step = dir ? readCheckpointMeta(dir).step : 0;
    this.services.store.transaction(() => {
      this.services.metrics.deleteAfter(runId, step);
      this.services.artefacts.deleteForRun(runId, step);
      this.services.runs.setCancelRequested(runId, false);
    });
    const parentRun = current.parents[0]?.runId;
    const spec: TrainJobSpec = {
      runId,
      runDir,
      datasetDir: this.resolveDatasetDir(current.datasetId),
      config,
      parents: this.parentDirs(parentRun),
      resume: dir !== null,
      backend: current.backend ?? 'auto',
    };
    const queued = runs.update({ id: runId, status: 'queued', error: null });
    this.enqueue(spec);
    return queued;
  }

  /**
   * Requests cancellation. A job of this process stops after its current step (and writes a
   * checkpoint); a job of another live process is flagged in the database and stopped by its owner;
   * a run whose owner is gone is marked cancelled directly.
   */
  cancel(runId: number): Run {
    const { runs } = this.services;
    const run = runs.get(runId);
    const job = this.jobs.get(runId);
    if (job) {
      if (job.running) runs.setCancelRequested(runId, true);
      this.host.cancel(job.jobId);
      return runs.get(runId);
    }
    if (run.status !== 'queued' && run.status !== 'running') {
      throw new ConflictError(`run ${runId} is '${run.status}'; only queued or running runs can be cancelled`);
    }
    if (this.ownerAlive(runId)) {
      runs.setCancelRequested(runId, true);
      return runs.get(runId);
    }
    removeOwner(this.runDir(runId));
    return runs.update({ id: runId, status: 'cancelled', error: 'cancelled after its process had exited' });
  }

  /** Tests only: resolves with the step at which the run's job is held (see JobsOptions.holdAtStep). */
  held(runId: number): Promise<number> {
    const job = this.jobs.get(runId);
    if (!job) return Promise.reject(new Error(`run ${runId} has no job in this process (status '${this.services.runs.get(runId).status}'), so it will never be held`));
    if (job.holdAtStep === undefined) return Promise.reject(new Error(`run ${runId}'s job has no hold step`));
    if (job.heldAt !== null) return Promise.resolve(job.heldAt);
    return new Promise((resolve, reject) => {
      job.heldWaiters.push(resolve);
      void job.promise.then(({ run }) => reject(new Error(`run ${runId} ended '${run.status}' before reaching its hold at step ${job.holdAtStep}${run.error ? `: ${run.error}` : ''}`)));
    });
  }

  /**
   * Tests only: a process held through the environment (a CLI command or `brainsynth serve` in a
   * child process) lets its held jobs go on at SIGUSR2, the one channel that needs no disk.
   */
  private releaseHeldOnSignal(): void {
    if (this.releaseOnSignal || process.platform === 'win32') return;
    this.releaseOnSignal = true;
    process.on('SIGUSR2', () => {
      for (const job of this.jobs.values()) if (job.heldAt !== null) this.host.release(job.jobId);
    });
  }

  /** Tests only: lets a held job go on. */
  release(runId: number): void {
    const job = this.jobs.get(runId);
    if (job) this.host.release(job.jobId);
  }

  list(): JobInfo[] {
    return [...this.jobs.values()].map((j) => ({
      runId: j.runId,
      stage: j.stage,
      state: j.running ? 'running' : 'queued',
      backend: j.backend,
      progress: j.progress ? toTrainingProgress(j.progress, j.backend) : null,
    }));
  }

  /** Resolves when the run's job (of this process) ends. */
  waitFor(runId: number): Promise<JobOutcome> {
    const job = this.jobs.get(runId);
    if (!job) return Promise.resolve({ run: this.services.runs.get(runId), result: null, summary: null });
    return job.promise;
  }

  /**
   * Marks runs left 'queued' or 'running' by a process that no longer exists as failed, so nothing
   * stays "running" forever. Returns the runs it changed.
   */
  recoverStale(): Run[] {
    const changed: Run[] = [];
    for (const id of this.services.runs.activeIds()) {
      if (this.jobs.has(id) || this.ownerAlive(id)) continue;
      // A run another process has just created may not have its owner file yet.
      if (!readOwner(this.runDir(id)) && Date.now() - Date.parse(this.services.runs.get(id).updatedAt) < (this.opts.staleAfterMs ?? DEFAULT_STALE_AFTER_MS)) continue;
      changed.push(this.markInterrupted(this.services.runs.get(id)));
    }
    return changed;
  }

  /**
   * Shutting down: queued jobs are dropped, a running worker is terminated and its run marked
   * failed (resumable from its last checkpoint). Synchronous so it can run before the store closes.
   */
  closeSync(): void {
    if (this.closed) return;
    this.closed = true;
    for (const job of [...this.jobs.values()]) {
      this.host.abandon(
        job.jobId,
        'failed',
        job.running ? 'the application closed while training; resume to continue from the last checkpoint' : 'the application closed before the job started; resume it to run',
      );
    }
    if (this.ownHost) void this.host.close();
  }

  // -------------------------------------------------------------------------------------------
  // The job
  // -------------------------------------------------------------------------------------------

  private enqueue(spec: TrainJobSpec): void {
    let resolve!: (o: JobOutcome) => void;
    const promise = new Promise<JobOutcome>((r) => (resolve = r));
    const holdAtStep = this.opts.holdAtStep ? this.opts.holdAtStep({ runId: spec.runId, resume: spec.resume }) : holdFromEnv('BRAINSYNTH_TEST_HOLD_AT_STEP');
    const holdAtCheckpoint = this.opts.holdAtCheckpoint
      ? this.opts.holdAtCheckpoint({ runId: spec.runId, resume: spec.resume })
      : holdFromEnv('BRAINSYNTH_TEST_HOLD_AT_CHECKPOINT');
    if ((holdAtStep !== undefined && !this.opts.holdAtStep) || (holdAtCheckpoint !== undefined && !this.opts.holdAtCheckpoint)) this.releaseHeldOnSignal();
    mkdirSync(spec.runDir, { recursive: true });
    const job: ActiveJob = {
      runId: spec.runId,
      stage: spec.config.stage,
      jobId: '',
      running: false,
      progress: null,
      backend: null,
      pending: [],
      lastFlush: Date.now(),
      resolve,
      promise,
      result: null,
      summary: null,
      holdAtStep,
      heldAt: null,
      heldWaiters: [],
    };
    this.jobs.set(spec.runId, job);
    const submitted = this.host.submit({
      payload: {
        kind: 'train',
        spec,
        ...(holdAtStep !== undefined ? { holdAtStep } : {}),
        ...(holdAtCheckpoint !== undefined ? { holdAtCheckpoint } : {}),
      },
      label: `Train ${spec.config.stage} (run ${spec.runId})`,
      runId: spec.runId,
      runDir: spec.runDir,
      onStart: () => {
        job.running = true;
      },
      onEvent: (e) => this.onEvent(job, e as TrainWorkerEvent),
      onDone: (outcome) => {
        const r = outcome.result as TrainJobResult;
        job.result = r.result;
        job.summary = r.summary;
      },
      onTick: () => {
        if (job.pending.length === 0 || Date.now() - job.lastFlush < (this.opts.flushMs ?? 1000)) return;
        try {
          this.flush(job);
        } catch (err) {
          // A full disk must fail this job, not the process hosting it.
          this.host.abandon(job.jobId, 'failed', (err as Error).message);
        }
      },
      onEnd: (j) => this.finish(job, j),
    });
    job.jobId = submitted.jobId;
  }

  private onEvent(job: ActiveJob, m: TrainWorkerEvent): void {
    const { runs, events } = this.services;
    switch (m.type) {
      case 'started':
        job.backend = m.backend;
        this.storing(() => runs.update({ id: job.runId, status: 'running', backend: m.backend }));
        break;
      case 'metrics':
        job.pending.push(...m.points);
        if (job.pending.length >= 512 || Date.now() - job.lastFlush >= (this.opts.flushMs ?? 1000)) this.storing(() => this.flush(job));
        break;
      case 'progress': {
        job.progress = m.progress;
        const p = m.progress;
        const lossText = Object.entries(p.losses)
          .map(([k, v]) => `${k} ${v.toPrecision(4)}`)
          .join(', ');
        events.emit('job.progress', {
          jobId: job.jobId,
          kind: 'train',
          runId: job.runId,
          phase: p.phase,
          done: p.step,
          total: p.totalSteps,
          message: `${p.stage} epoch ${Math.min(p.epoch + 1, p.epochs)}/${p.epochs} step ${p.step}/${p.totalSteps}${lossText ? ` | ${lossText}` : ''}`,
          etaSeconds: p.etaSeconds,
          training: toTrainingProgress(p, job.backend),
        });
        this.host.annotate(job.jobId, { training: toTrainingProgress(p, job.backend) });
        this.opts.onProgress?.(job.runId, p);
        break;
      }
      case 'checkpoint': {
        // Confirmed by the job before the checkpoint becomes its resume point: every metric up to
        // it and its rows commit together first. A crash before the promotion leaves rows ahead
        // of the pointer files, which reconcileCheckpoints() puts right.
        const e = m.event;
        this.storing(() =>
          this.services.store.transaction(() => {
            this.flush(job);
            this.services.checkpoints.replace(job.runId, e.kinds, { path: e.modelPath, step: e.step, epoch: e.epoch, sha256: e.sha256 });
          }),
        );
        break;
      }
      case 'artefact':
        this.storing(() => this.services.artefacts.add({ runId: job.runId, kind: m.event.kind, path: m.event.path, step: m.event.step, meta: m.event.meta }));
        break;
      case 'log':
        events.emit('run.log', { runId: job.runId, message: m.message });
        break;
      case 'held':
        // Everything before the hold is in the store when a test acts on it.
        this.storing(() => this.flush(job));
        job.heldAt = m.step;
        for (const w of job.heldWaiters.splice(0)) w(m.step);
        break;
    }
  }

  /** Runs a store write; a disk-side failure comes back naming the database and the cause. */
  private storing<T>(write: () => T): T {
    try {
      return write();
    } catch (err) {
      throw diskError(err, this.services.store.path);
    }
  }

  /**
   * Makes the run's checkpoint files and rows agree after a crash or a failed write: a
   * promotion cut short is finished, folders that never became a checkpoint are deleted, and
   * the 'last'/'best' rows are set from the pointer files (the files are what a resume uses).
   */
  private reconcileCheckpoints(runId: number): void {
    const runDir = this.runDir(runId);
    repairCheckpoints(runDir);
    const { checkpoints } = this.services;
    for (const kind of ['last', 'best'] as const) {
      const dir = checkpointDir(runDir, kind);
      const row = checkpoints.latest(runId, kind);
      if (!dir) {
        if (row) checkpoints.remove(runId, kind);
        continue;
      }
      const meta = readCheckpointMeta(dir);
      const path = join(dir, 'model.safetensors');
      if (row && row.path === path && row.step === meta.step) continue;
      const sha256 = meta.files['model.safetensors']?.sha256;
      if (!sha256) throw new Error(`${join(dir, 'meta.json')}: no model.safetensors hash`);
      checkpoints.replace(runId, [kind], { path, step: meta.step, epoch: meta.epoch, sha256 });
    }
  }

  private flush(job: ActiveJob): void {
    job.lastFlush = Date.now();
    if (job.pending.length === 0) return;
    const points = job.pending.splice(0, job.pending.length);
    this.services.metrics.append(job.runId, points);
  }

  /** The job ended (any way): the run's final status, once. */
  private finish(job: ActiveJob, ended: Job): void {
    const { runs } = this.services;
    const status = ended.state as 'completed' | 'failed' | 'cancelled';
    let error = status === 'failed' ? ended.error : null;
    try {
      this.storing(() => this.flush(job));
    } catch (err) {
      error = error ?? `could not store the last metrics: ${(err as Error).message}`;
    }
    if (status !== 'completed') {
      try {
        this.reconcileCheckpoints(job.runId);
      } catch {
        /* done again when the run is resumed */
      }
    }
    const record = (): Run => {
      runs.setCancelRequested(job.runId, false);
      const current = runs.get(job.runId);
      // A queued job that never started goes straight to its end state.
      if (current.status === 'queued' && status === 'completed') runs.update({ id: job.runId, status: 'running' });
      return current.status === status ? current : runs.update({ id: job.runId, status, error });
    };
    let run: Run;
    try {
      run = record();
    } catch (first) {
      try {
        // On a full disk, moving the write-ahead log into the database may free enough room.
        this.services.store.checkpointWal();
        run = record();
      } catch {
        // The caller still learns how the job ended; the row is put right when the run is resumed.
        const why = (diskError(first, this.services.store.path) as Error).message;
        run = { ...runs.get(job.runId), status, error: `${error ?? status} (not recorded in the database: ${why})` };
      }
    }
    this.jobs.delete(job.runId);
    job.resolve({ run, result: job.result, summary: job.summary });
  }

  /** Another process still owns the run: same host and pid alive, with a recent heartbeat. */
  private ownerAlive(runId: number): boolean {
    return ownerAlive(this.runDir(runId), () => this.jobs.has(runId), this.opts.staleAfterMs);
  }

  private markInterrupted(run: Run): Run {
    removeOwner(this.runDir(run.id));
    try {
      this.reconcileCheckpoints(run.id);
    } catch {
      /* a damaged checkpoint is reported when the run is resumed; the status matters more here */
    }
    const what = run.status === 'queued' ? 'was queued in a process that exited' : 'was interrupted (its process exited while training)';
    const target = run.status === 'queued' ? 'cancelled' : 'failed';
    return this.services.runs.update({ id: run.id, status: target, error: `${what}; resume it to continue from the last checkpoint` });
  }

  // -------------------------------------------------------------------------------------------
  // Resolution
  // -------------------------------------------------------------------------------------------

  private resolveDatasetDir(datasetId: number): string {
    let found;
    try {
      found = preparedDatasetDir(this.services, datasetId);
    } catch {
      throw new InvalidInputError(`unknown dataset ${datasetId} (see \`brainsynth data list\`)`);
    }
    if (found.dir) return found.dir;
    throw new InvalidInputError(`dataset ${datasetId} (${found.name}) has no prepared slices; run \`brainsynth data prepare --dataset ${datasetId}\` first`);
  }

  /** A run as the parent of a new training run; refused when it does not exist. */
  parentInfo(parentRunId: number): ParentRunInfo {
    let run: Run;
    try {
      run = this.services.runs.get(parentRunId);
    } catch (err) {
      if (err instanceof NotFoundError) throw new InvalidInputError(`parent run ${parentRunId} does not exist`);
      throw err;
    }
    const dir = this.runDir(parentRunId);
    return {
      runId: run.id,
      stage: run.stage,
      status: run.status,
      config: run.config as unknown as TrainConfig,
      hasCheckpoint: checkpointDir(dir, 'last') !== null,
      parentDirs: this.parentDirs(run.parents[0]?.runId),
      runDir: dir,
    };
  }

  private parentDirs(parentRunId: number | undefined): TrainJobSpec['parents'] {
    if (parentRunId === undefined) return {};
    const parent = this.services.runs.get(parentRunId);
    const dir = this.runDir(parentRunId);
    if (parent.stage === 'autoencoder') return { autoencoder: dir };
    if (parent.stage === 'ldm') {
      const grand = parent.parents[0]?.runId;
      return { ldm: dir, autoencoder: grand !== undefined ? this.runDir(grand) : undefined };
    }
    return {};
  }
}

import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { JobInfo, Run, TrainingProgress } from '../../shared/contract';
import { writeFileAtomic } from '../../ml/io';
import { checkpointDir, readCheckpointMeta } from '../../ml/train/checkpoint';
import type { TrainConfig, TrainPreset } from '../../ml/train/config';
import type { MetricOut, TrainProgress, TrainResult, TrainStage } from '../../ml/train/session';
import type { TrainJobSpec } from '../../ml/train/spec';
import type { ParentRunInfo } from '../../ml/train/validate';
import type { WorkerInput, WorkerMessage } from '../jobs/protocol';
import { ConflictError, InvalidInputError, NotFoundError } from './errors';
import type { Services } from './index';
import { preparedDatasetDir } from './prepared-dir';

/**
 * Training jobs: ONE queue per host process (Electron main, `serve` bridge or CLI). Each job runs
 * in a worker thread; the host is the only database writer (metrics in batches, checkpoints,
 * artefacts, status) and pushes 'job.progress' / 'run.updated' through the event hub.
 *
 * Cross-process safety: the owning process keeps `runs/<id>/job.json` (pid, host, heartbeat)
 * fresh while a run is queued or running, and polls runs.cancel_requested, so `brainsynth cancel`
 * from another process stops it. A run left 'queued'/'running' by a dead process is marked failed
 * at startup (recoverStale) and can be resumed from its last checkpoint.
 */

export interface StartTrainingRequest {
  stage: TrainStage;
  datasetId: number;
  preset: TrainPreset;
  parentRunId?: number;
  epochs?: number;
  seed?: number;
  backend?: string;
  /** `key=value` config overrides (dotted paths). */
  overrides?: string[];
  name?: string;
  experimentId?: number;
}

export interface JobOutcome {
  run: Run;
  result: TrainResult | null;
  summary: Record<string, unknown> | null;
}

export interface JobsOptions {
  /** Creates the worker thread (Electron passes its bundled worker; default: tsx shim). */
  createWorker?: (input: WorkerInput) => Worker;
  /** How often the cancel flag and heartbeat are refreshed (ms). */
  pollMs?: number;
  /** Metric points are written at least this often (ms), and always before a checkpoint. */
  flushMs?: number;
  /** Heartbeats older than this mark an owner as dead (ms). */
  staleAfterMs?: number;
  /** Progress listener in the same process (the CLI's progress bar). */
  onProgress?: (runId: number, p: TrainProgress) => void;
  onLog?: (runId: number, message: string) => void;
}

interface OwnerFile {
  pid: number;
  host: string;
  heartbeat: number;
}

interface ActiveJob {
  runId: number;
  stage: TrainStage;
  spec: TrainJobSpec;
  worker: Worker | null;
  cancelFlag: SharedArrayBuffer;
  progress: TrainProgress | null;
  backend: string | null;
  pending: MetricOut[];
  lastFlush: number;
  finished: boolean;
  resolve: (o: JobOutcome) => void;
  promise: Promise<JobOutcome>;
  result: TrainResult | null;
  summary: Record<string, unknown> | null;
}

/** Dev, CLI and tests: the TypeScript worker through the tsx shim. */
export function tsxWorkerFactory(input: WorkerInput): Worker {
  const shim = new URL('../jobs/worker-shim.mjs', import.meta.url);
  return new Worker(shim, { workerData: input });
}

let defaultWorkerFactory: (input: WorkerInput) => Worker = tsxWorkerFactory;

/** The Electron main installs its bundled worker (src/main/jobs/electron-worker.ts) before opening services. */
export function setDefaultWorkerFactory(factory: (input: WorkerInput) => Worker): void {
  defaultWorkerFactory = factory;
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

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class JobsService {
  private readonly queue: ActiveJob[] = [];
  private active: ActiveJob | null = null;
  private readonly jobs = new Map<number, ActiveJob>();
  private timer: NodeJS.Timeout | null = null;
  private readonly createWorker: (input: WorkerInput) => Worker;
  private closed = false;

  constructor(
    private readonly services: Services,
    private readonly opts: JobsOptions = {},
  ) {
    this.createWorker = opts.createWorker ?? defaultWorkerFactory;
    try {
      this.recoverStale();
    } catch {
      /* a read-only store cannot be repaired; the next writer will do it */
    }
  }

  /** The poll timer runs only while this process has jobs. */
  private ensureTimer(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => this.tick(), this.opts.pollMs ?? 500);
    this.timer.unref();
  }

  private stopTimerIfIdle(): void {
    if (this.timer && this.jobs.size === 0) {
      clearInterval(this.timer);
      this.timer = null;
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
    const { buildTrainConfig, validateTrainConfig } = await import('../../ml/train/validate');
    const parent = req.parentRunId !== undefined ? this.parentInfo(req.parentRunId) : undefined;
    const datasetDir = req.datasetId !== undefined ? this.resolveDatasetDir(req.datasetId) : undefined;
    try {
      const config = buildTrainConfig({ stage: req.stage, preset: req.preset, overrides: req.overrides ?? [], parent });
      validateTrainConfig(config, { parent, datasetDir });
      // The reference column comes from a reference chain (published shapes), not from the parent.
      const asParent = (c: TrainConfig): ParentRunInfo => ({ runId: 0, stage: c.stage, status: 'completed', config: c, hasCheckpoint: true, runDir: '', parentDirs: {} });
      let reference = buildTrainConfig({ stage: 'autoencoder', preset: 'reference', overrides: [] });
      if (req.stage !== 'autoencoder') reference = buildTrainConfig({ stage: 'ldm', preset: 'reference', overrides: [], parent: asParent(reference) });
      if (req.stage === 'controlnet') reference = buildTrainConfig({ stage: 'controlnet', preset: 'reference', overrides: [], parent: asParent(reference) });
      return { config: config as unknown as Record<string, unknown>, reference: reference as unknown as Record<string, unknown> };
    } catch (err) {
      throw new InvalidInputError((err as Error).message);
    }
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
    if (this.jobs.has(runId)) throw new ConflictError(`run ${runId} is already ${this.jobs.get(runId)!.worker ? 'running' : 'queued'} here`);
    if (run.status === 'running' || run.status === 'queued') {
      if (this.ownerAlive(runId)) throw new ConflictError(`run ${runId} is ${run.status} in another process (pid ${this.readOwner(runId)?.pid})`);
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
    const dir = checkpointDir(runDir, 'last');
    const step = dir ? readCheckpointMeta(dir).step : 0;
    this.services.store.transaction(() => {
      this.services.metrics.deleteAfter(runId, step);
      this.services.store.db.prepare("DELETE FROM artefacts WHERE run_id = ? AND step > ?").run(runId, step);
      this.services.store.db.prepare('UPDATE runs SET cancel_requested = 0 WHERE id = ?').run(runId);
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
    const { runs, store } = this.services;
    const run = runs.get(runId);
    const job = this.jobs.get(runId);
    if (job) {
      if (!job.worker) {
        this.queue.splice(this.queue.indexOf(job), 1);
        this.finish(job, 'cancelled', null);
        return runs.get(runId);
      }
      Atomics.store(new Int32Array(job.cancelFlag), 0, 1);
      store.db.prepare('UPDATE runs SET cancel_requested = 1 WHERE id = ?').run(runId);
      return runs.get(runId);
    }
    if (run.status !== 'queued' && run.status !== 'running') {
      throw new ConflictError(`run ${runId} is '${run.status}'; only queued or running runs can be cancelled`);
    }
    if (this.ownerAlive(runId)) {
      store.db.prepare('UPDATE runs SET cancel_requested = 1 WHERE id = ?').run(runId);
      return runs.get(runId);
    }
    this.removeOwner(runId);
    return runs.update({ id: runId, status: 'cancelled', error: 'cancelled after its process had exited' });
  }

  list(): JobInfo[] {
    return [...this.jobs.values()].map((j) => ({
      runId: j.runId,
      stage: j.stage,
      state: j.worker ? 'running' : 'queued',
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
    const rows = this.services.store.db.prepare("SELECT id FROM runs WHERE status IN ('queued', 'running')").all() as { id: number }[];
    const changed: Run[] = [];
    for (const { id } of rows) {
      if (this.jobs.has(id) || this.ownerAlive(id)) continue;
      // A run another process has just created may not have its owner file yet.
      if (!this.readOwner(id) && Date.now() - Date.parse(this.services.runs.get(id).updatedAt) < (this.opts.staleAfterMs ?? 30_000)) continue;
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
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const job of [...this.queue]) this.finish(job, 'failed', 'the application closed before the job started; resume it to run');
    this.queue.length = 0;
    const job = this.active;
    if (job && !job.finished) this.finish(job, 'failed', 'the application closed while training; resume to continue from the last checkpoint');
  }

  // -------------------------------------------------------------------------------------------
  // Queue and worker
  // -------------------------------------------------------------------------------------------

  private enqueue(spec: TrainJobSpec): void {
    let resolve!: (o: JobOutcome) => void;
    const promise = new Promise<JobOutcome>((r) => (resolve = r));
    const job: ActiveJob = {
      runId: spec.runId,
      stage: spec.config.stage,
      spec,
      worker: null,
      cancelFlag: new SharedArrayBuffer(4),
      progress: null,
      backend: null,
      pending: [],
      lastFlush: Date.now(),
      finished: false,
      resolve,
      promise,
      result: null,
      summary: null,
    };
    mkdirSync(spec.runDir, { recursive: true });
    this.writeOwner(spec.runId);
    this.jobs.set(spec.runId, job);
    this.queue.push(job);
    this.ensureTimer();
    this.pump();
  }

  private pump(): void {
    if (this.active || this.closed) return;
    const job = this.queue.shift();
    if (!job) return;
    this.active = job;
    let worker: Worker;
    try {
      worker = this.createWorker({ spec: job.spec, cancelFlag: job.cancelFlag });
    } catch (err) {
      this.finish(job, 'failed', `could not start the training worker: ${(err as Error).message}`);
      return;
    }
    job.worker = worker;
    worker.on('message', (m: WorkerMessage) => this.onMessage(job, m));
    worker.on('error', (err) => {
      // Uncaught exceptions and out-of-memory in the worker land here.
      this.finish(job, 'failed', `training worker crashed: ${err.message}`);
    });
    worker.on('exit', (code) => {
      if (!job.finished) this.finish(job, 'failed', `training worker exited unexpectedly (exit code ${code})`);
    });
  }

  private onMessage(job: ActiveJob, m: WorkerMessage): void {
    if (job.finished) return;
    const { runs, events } = this.services;
    switch (m.type) {
      case 'started':
        job.backend = m.backend;
        runs.update({ id: job.runId, status: 'running', backend: m.backend });
        break;
      case 'metrics':
        job.pending.push(...m.points);
        if (job.pending.length >= 512 || Date.now() - job.lastFlush >= (this.opts.flushMs ?? 1000)) this.flush(job);
        break;
      case 'progress': {
        job.progress = m.progress;
        const p = m.progress;
        const lossText = Object.entries(p.losses)
          .map(([k, v]) => `${k} ${v.toPrecision(4)}`)
          .join(', ');
        events.emit('job.progress', {
          jobId: `train-${job.runId}`,
          kind: 'train',
          runId: job.runId,
          phase: p.phase,
          done: p.step,
          total: p.totalSteps,
          message: `${p.stage} epoch ${Math.min(p.epoch + 1, p.epochs)}/${p.epochs} step ${p.step}/${p.totalSteps}${lossText ? ` | ${lossText}` : ''}`,
          etaSeconds: p.etaSeconds,
          training: toTrainingProgress(p, job.backend),
        });
        this.opts.onProgress?.(job.runId, p);
        break;
      }
      case 'checkpoint': {
        this.flush(job);
        const { store } = this.services;
        const e = m.event;
        store.transaction(() => {
          for (const kind of e.kinds) {
            store.db.prepare('DELETE FROM checkpoints WHERE run_id = ? AND kind = ?').run(job.runId, kind);
            store.db
              .prepare('INSERT INTO checkpoints (run_id, kind, path, step, epoch, sha256, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
              .run(job.runId, kind, e.modelPath, e.step, e.epoch, e.sha256, new Date().toISOString());
          }
        });
        break;
      }
      case 'artefact':
        this.services.artefacts.add({ runId: job.runId, kind: m.event.kind, path: m.event.path, step: m.event.step, meta: m.event.meta });
        break;
      case 'log':
        this.opts.onLog?.(job.runId, m.message);
        break;
      case 'done':
        job.result = m.result;
        job.summary = m.summary;
        this.finish(job, m.result.status, null);
        break;
      case 'error':
        this.finish(job, 'failed', m.message);
        break;
    }
  }

  private flush(job: ActiveJob): void {
    job.lastFlush = Date.now();
    if (job.pending.length === 0) return;
    const points = job.pending.splice(0, job.pending.length);
    this.services.metrics.append(job.runId, points);
  }

  private finish(job: ActiveJob, status: 'completed' | 'failed' | 'cancelled', error: string | null): void {
    if (job.finished) return;
    job.finished = true;
    const { runs, store } = this.services;
    try {
      this.flush(job);
    } catch (err) {
      error = error ?? `could not store the last metrics: ${(err as Error).message}`;
    }
    let run: Run;
    try {
      store.db.prepare('UPDATE runs SET cancel_requested = 0 WHERE id = ?').run(job.runId);
      const current = runs.get(job.runId);
      // A queued job that never started goes straight to its end state.
      if (current.status === 'queued' && status === 'completed') runs.update({ id: job.runId, status: 'running' });
      run = current.status === status ? current : runs.update({ id: job.runId, status, error });
    } catch {
      run = runs.get(job.runId);
    }
    this.removeOwner(job.runId);
    this.jobs.delete(job.runId);
    if (job.worker) void job.worker.terminate().catch(() => undefined);
    if (this.active === job) this.active = null;
    job.resolve({ run, result: job.result, summary: job.summary });
    this.stopTimerIfIdle();
    this.pump();
  }

  private tick(): void {
    if (this.jobs.size === 0) return;
    const db = this.services.store.db;
    for (const job of this.jobs.values()) {
      this.writeOwner(job.runId);
      try {
        const row = db.prepare('SELECT cancel_requested FROM runs WHERE id = ?').get(job.runId) as { cancel_requested: number } | undefined;
        if (row?.cancel_requested) {
          if (job.worker) Atomics.store(new Int32Array(job.cancelFlag), 0, 1);
          else this.cancel(job.runId);
        }
      } catch {
        /* the database may be busy; try again next tick */
      }
      if (job.worker && job.pending.length > 0 && Date.now() - job.lastFlush >= (this.opts.flushMs ?? 1000)) this.flush(job);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Ownership files
  // -------------------------------------------------------------------------------------------

  private ownerPath(runId: number): string {
    return join(this.runDir(runId), 'job.json');
  }

  private writeOwner(runId: number): void {
    const owner: OwnerFile = { pid: process.pid, host: hostname(), heartbeat: Date.now() };
    try {
      mkdirSync(this.runDir(runId), { recursive: true });
      writeFileAtomic(this.ownerPath(runId), new TextEncoder().encode(JSON.stringify(owner)));
    } catch {
      /* heartbeat is best effort */
    }
  }

  private readOwner(runId: number): OwnerFile | null {
    const p = this.ownerPath(runId);
    if (!existsSync(p)) return null;
    try {
      return JSON.parse(readFileSync(p, 'utf8')) as OwnerFile;
    } catch {
      return null;
    }
  }

  private removeOwner(runId: number): void {
    rmSync(this.ownerPath(runId), { force: true });
  }

  /** Another process still owns the run: same host and pid alive, with a recent heartbeat. */
  private ownerAlive(runId: number): boolean {
    const owner = this.readOwner(runId);
    if (!owner) return false;
    if (owner.pid === process.pid && owner.host === hostname()) return this.jobs.has(runId);
    const fresh = Date.now() - owner.heartbeat < (this.opts.staleAfterMs ?? 30_000);
    if (owner.host !== hostname()) return fresh;
    return fresh && pidAlive(owner.pid);
  }

  private markInterrupted(run: Run): Run {
    this.removeOwner(run.id);
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

  private parentInfo(parentRunId: number): ParentRunInfo {
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

/**
 * The sampling job host: Generate-view slices, whole-volume translations and evaluation runs run
 * here, one at a time, each in a worker thread (never on the main/UI thread). The host keeps each
 * job's state and result in memory, pushes 'job.progress' events and calls the job's onDone on
 * the host thread, where results are stored (the worker never touches the database).
 * Tests and the CLI may run jobs in-process (`inProcess: true`), which runs the same code.
 */
import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { EventMap } from '../../shared/contract';
import { runSampleJob, type SampleJobProgress, type SampleJobResult, type SampleJobSpec } from '../../ml/sample/jobs';
import type { EventHub } from '../events';
import { NotFoundError } from '../errors';

export type SampleJobState = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

export interface SampleJob {
  id: string;
  kind: SampleJobSpec['kind'];
  runId: number | null;
  state: SampleJobState;
  progress: SampleJobProgress | null;
  backend: string | null;
  error: string | null;
  result: SampleJobResult | null;
  createdAt: string;
  finishedAt: string | null;
}

export interface SubmitOptions {
  /** Run the job belongs to (the ControlNet run for generation, the evaluation run for evaluations). */
  runId?: number | null;
  /** Called on the host thread when the job leaves the queue and starts. */
  onStart?(job: SampleJob): void;
  /** Called on the host thread once the job has a result (store it here); a throw fails the job. */
  onDone?(result: SampleJobResult, job: SampleJob): void | Promise<void>;
  onFail?(error: string, job: SampleJob): void;
}

export interface SampleJobHostOptions {
  /** Run jobs in this thread instead of a worker (CLI, tests). */
  inProcess?: boolean;
  createWorker?: SampleWorkerFactory;
  /** Finished jobs kept for result lookup (oldest dropped first). */
  keepFinished?: number;
}

export type WorkerReply =
  | { type: 'started'; backend: string }
  | { type: 'progress'; progress: SampleJobProgress }
  | { type: 'done'; result: SampleJobResult }
  | { type: 'error'; message: string; cancelled: boolean };

export type SampleWorkerFactory = (spec: SampleJobSpec, cancelFlag: SharedArrayBuffer) => Worker;

/** tsx-loaded worker (dev, CLI, bridge, tests); the Electron build installs its bundled one. */
export function tsxSampleWorker(spec: SampleJobSpec, cancelFlag: SharedArrayBuffer): Worker {
  return new Worker(new URL('./sample-worker-shim.mjs', import.meta.url), { workerData: { spec, cancelFlag } });
}

let defaultFactory: SampleWorkerFactory = tsxSampleWorker;

/** Called once by the Electron main with electronSampleWorkerFactory (generate-worker-electron.ts). */
export function setDefaultSampleWorkerFactory(factory: SampleWorkerFactory): void {
  defaultFactory = factory;
}

export function defaultSampleWorker(spec: SampleJobSpec, cancelFlag: SharedArrayBuffer): Worker {
  return defaultFactory(spec, cancelFlag);
}

interface Entry {
  job: SampleJob;
  spec: SampleJobSpec;
  opts: SubmitOptions;
  cancelFlag: SharedArrayBuffer;
  worker: Worker | null;
  /** The worker delivered its result (its normal exit that follows is not a crash). */
  delivered: boolean;
  done: Promise<SampleJob>;
  resolve(job: SampleJob): void;
}

export class SampleJobHost {
  private readonly entries = new Map<string, Entry>();
  private readonly queue: Entry[] = [];
  private active: Entry | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly events: EventHub<EventMap>,
    private readonly opts: SampleJobHostOptions = {},
  ) {}

  submit(spec: SampleJobSpec, opts: SubmitOptions = {}): SampleJob {
    if (this.closed) throw new Error('the sampling job host is closed');
    let resolve!: (j: SampleJob) => void;
    const done = new Promise<SampleJob>((r) => (resolve = r));
    const job: SampleJob = {
      id: `${spec.kind}-${randomUUID().slice(0, 8)}`,
      kind: spec.kind,
      runId: opts.runId ?? null,
      state: 'queued',
      progress: null,
      backend: null,
      error: null,
      result: null,
      createdAt: new Date().toISOString(),
      finishedAt: null,
    };
    const entry: Entry = { job, spec, opts, cancelFlag: new SharedArrayBuffer(4), worker: null, delivered: false, done, resolve };
    this.entries.set(job.id, entry);
    this.queue.push(entry);
    this.emit(entry, 'queued');
    this.pump();
    return job;
  }

  get(jobId: string): SampleJob {
    const e = this.entries.get(jobId);
    if (!e) throw new NotFoundError(`sampling job ${jobId} does not exist (finished jobs are kept only while the app runs)`);
    return e.job;
  }

  list(): SampleJob[] {
    return [...this.entries.values()].map((e) => e.job);
  }

  wait(jobId: string): Promise<SampleJob> {
    const e = this.entries.get(jobId);
    if (!e) return Promise.reject(new NotFoundError(`sampling job ${jobId} does not exist`));
    return e.done;
  }

  cancel(jobId: string): SampleJob {
    const e = this.entries.get(jobId);
    if (!e) throw new NotFoundError(`sampling job ${jobId} does not exist`);
    if (e.job.state === 'queued') {
      this.queue.splice(this.queue.indexOf(e), 1);
      this.finish(e, 'cancelled', 'cancelled before it started');
    } else if (e.job.state === 'running') {
      Atomics.store(new Int32Array(e.cancelFlag), 0, 1);
    }
    return e.job;
  }

  /**
   * Stops taking jobs; queued jobs end cancelled and a running one failed, recorded synchronously
   * (so the caller can close the store right after), then its worker is terminated. The promise
   * settles once the worker has exited; calling again returns the same promise.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    for (const e of this.queue.splice(0)) this.finish(e, 'cancelled', 'the application closed before the job started');
    const a = this.active;
    const worker = a?.worker ?? null;
    if (a) {
      a.worker = null; // terminated below, awaited
      Atomics.store(new Int32Array(a.cancelFlag), 0, 1); // an in-process job stops at its next step
      this.finish(a, 'failed', 'the application closed while the job ran');
    }
    this.closing = worker ? worker.terminate().then(() => undefined, () => undefined) : Promise.resolve();
    return this.closing;
  }

  private emit(e: Entry, phase: string): void {
    const p = e.job.progress;
    this.events.emit('job.progress', {
      jobId: e.job.id,
      kind: e.job.kind === 'slice' ? 'generate' : e.job.kind === 'volume' ? 'translate' : 'evaluate',
      runId: e.job.runId,
      phase,
      done: p?.done ?? 0,
      total: p?.total ?? null,
      message: e.job.error ?? p?.message ?? phase,
    });
  }

  private pump(): void {
    if (this.active || this.closed) return;
    const e = this.queue.shift();
    if (!e) return;
    this.active = e;
    e.job.state = 'running';
    try {
      e.opts.onStart?.(e.job);
    } catch (err) {
      this.finish(e, 'failed', (err as Error).message);
      return;
    }
    this.emit(e, 'running');
    if (this.opts.inProcess) {
      void this.runInProcess(e);
      return;
    }
    let worker: Worker;
    try {
      worker = (this.opts.createWorker ?? defaultSampleWorker)(e.spec, e.cancelFlag);
    } catch (err) {
      this.finish(e, 'failed', `could not start the sampling worker: ${(err as Error).message}`);
      return;
    }
    e.worker = worker;
    worker.on('message', (m: WorkerReply) => void this.onReply(e, m));
    worker.on('error', (err) => this.finish(e, 'failed', `sampling worker crashed: ${err.message}`));
    worker.on('exit', (code) => {
      if (!e.delivered) this.finish(e, 'failed', `sampling worker exited unexpectedly (exit code ${code})`);
    });
  }

  private async runInProcess(e: Entry): Promise<void> {
    try {
      const result = await runSampleJob(e.spec, {
        started: (backend) => void this.onReply(e, { type: 'started', backend }),
        progress: (progress) => void this.onReply(e, { type: 'progress', progress }),
        shouldStop: () => Atomics.load(new Int32Array(e.cancelFlag), 0) !== 0,
      });
      await this.onReply(e, { type: 'done', result });
    } catch (err) {
      const error = err as Error;
      await this.onReply(e, { type: 'error', message: error.message, cancelled: error.name === 'SamplingCancelledError' });
    }
  }

  private async onReply(e: Entry, m: WorkerReply): Promise<void> {
    if (e.job.state !== 'running') return;
    switch (m.type) {
      case 'started':
        e.job.backend = m.backend;
        break;
      case 'progress':
        e.job.progress = m.progress;
        this.emit(e, m.progress.phase);
        break;
      case 'done':
        e.delivered = true;
        e.job.result = m.result;
        try {
          await e.opts.onDone?.(m.result, e.job);
          this.finish(e, 'completed', null);
        } catch (err) {
          this.finish(e, 'failed', `could not store the result: ${(err as Error).message}`);
        }
        break;
      case 'error':
        e.delivered = true;
        this.finish(e, m.cancelled ? 'cancelled' : 'failed', m.message);
        break;
    }
  }

  private finish(e: Entry, state: 'completed' | 'failed' | 'cancelled', error: string | null): void {
    if (e.job.state === 'completed' || e.job.state === 'failed' || e.job.state === 'cancelled') return;
    e.job.state = state;
    e.job.error = error;
    e.job.finishedAt = new Date().toISOString();
    if (state !== 'completed') {
      try {
        e.opts.onFail?.(error ?? state, e.job);
      } catch {
        /* the failure is already recorded on the job */
      }
    }
    if (e.worker) void e.worker.terminate().catch(() => undefined);
    e.worker = null;
    this.emit(e, state);
    e.resolve(e.job);
    if (this.active === e) this.active = null;
    this.prune();
    this.pump();
  }

  private prune(): void {
    const keep = this.opts.keepFinished ?? 20;
    const finished = [...this.entries.values()].filter((x) => x.job.finishedAt !== null);
    for (const x of finished.slice(0, Math.max(0, finished.length - keep))) this.entries.delete(x.job.id);
  }
}

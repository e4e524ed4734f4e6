/**
 * The one job host of a back end (Electron main, `brainsynth serve` or a CLI command): every job
 * kind (dataset, training, sampling) is queued, run, cancelled, timed out and reported here.
 *
 * - Lanes: 'compute' jobs run one at a time (each uses every core it gets); 'io' jobs run one at
 *   a time beside them (see kinds.ts).
 * - Each job runs in a worker thread (worker.ts, the one entry for every kind), or in this thread
 *   when the host or the submission says inProcess (CLI commands, tests): the same code either way.
 * - A job tied to a run keeps `runs/<id>/job.json` fresh while it lives and honours
 *   runs.cancel_requested, so `brainsynth cancel` from another process stops it.
 * - A running job that sends nothing for its kind's stall time is failed.
 * - Every change is pushed as one 'job.updated' event (progress at most every progressIntervalMs).
 */
import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { EventMap, Job } from '../../shared/contract';
import type { EventHub } from '../events';
import { ConflictError, NotFoundError } from '../errors';
import { DEFAULT_CANCEL_GRACE_MS, jobKindInfo, type JobKindInfo, type Lane } from './kinds';
import { removeOwner, writeOwner } from './ownership';
import { CONTROL, CONTROL_BYTES, createJobContext } from './job-context';
import type { JobWorkerInput, JobWorkerMessage } from './protocol';
import { runJob, type JobOutcome, type JobPayload, type JobProgress } from './run-job';

export type JobWorkerFactory = (input: JobWorkerInput) => Worker;

let workerEntry: URL | string = new URL('./worker-shim.mjs', import.meta.url);

/** The Electron main hands over its bundled worker before opening the back end (dev and tests use the tsx shim). */
export function setJobWorkerEntry(entry: URL | string): void {
  workerEntry = entry;
}

/** The only place outside src/ml where job workers are created. */
export function createJobWorker(input: JobWorkerInput): Worker {
  return new Worker(workerEntry, { workerData: input });
}

export type JobState = Job['state'];
type EndState = 'completed' | 'failed' | 'cancelled';

export interface SubmitJob {
  payload: JobPayload;
  label: string;
  runId?: number | null;
  datasetId?: number | null;
  /** The run's folder: ownership heartbeat and cross-process cancel while the job lives. */
  runDir?: string;
  /** Run in this thread (CLI, tests) whatever the host's default. */
  inProcess?: boolean;
  /** Host thread: the job left the queue and starts; a throw fails it. */
  onStart?(job: Job): void;
  /**
   * Host thread: a kind-specific message from the job (metrics, checkpoints, ...). A throw fails
   * the job; a job waiting for the event's confirmation is told it was refused.
   */
  onEvent?(event: unknown, job: Job): void;
  /** Host thread: the job's result (store it here); a throw fails the job. */
  onDone?(outcome: JobOutcome, job: Job): void | Promise<void>;
  /** Host thread: called once when the job ends, whatever the end (after onDone). */
  onEnd?(job: Job): void;
  /** Host thread: the job changed (the same moments as its 'job.updated' events). */
  onUpdate?(job: Job): void;
  /** Host thread, every poll while the job lives (e.g. flush buffered metrics). */
  onTick?(job: Job): void;
}

export interface JobHostOptions {
  /** Run every job in this thread (CLI, tests); default: a worker thread per job. */
  inProcess?: boolean;
  createWorker?: JobWorkerFactory;
  /** Cross-process cancel: is runs.cancel_requested set for this run? */
  cancelRequested?(runId: number): boolean;
  /** How often heartbeats, cancel requests and stalls are checked (ms). */
  pollMs?: number;
  /** Minimum milliseconds between two 'job.updated' progress events of one job. */
  progressIntervalMs?: number;
  /** Finished jobs kept for lookup (oldest dropped first). */
  keepFinished?: number;
  /** Overrides the kinds' stall times (ms), e.g. in tests. */
  stallAfterMs?: number;
  /** Overrides the kinds' cancel grace (ms), e.g. in tests. */
  cancelGraceMs?: number;
}

interface Entry {
  job: Job;
  info: JobKindInfo;
  submit: SubmitJob;
  control: SharedArrayBuffer;
  worker: Worker | null;
  inProcess: boolean;
  /** The worker delivered its result or error (its exit that follows is not a crash). */
  delivered: boolean;
  lastSign: number;
  /** When a cancel of the running job was requested (ms), or null. */
  cancelAt: number | null;
  lastPush: number;
  startedMs: number;
  done: Promise<Job>;
  resolve(job: Job): void;
}

const limitText = (ms: number) => (ms >= 60_000 ? `${Number((ms / 60_000).toFixed(1))} min` : `${Number((ms / 1000).toFixed(1))} s`);

const isEnded = (s: JobState) => s === 'completed' || s === 'failed' || s === 'cancelled';

export class JobHost {
  private readonly entries = new Map<string, Entry>();
  private readonly queues: Record<Lane, Entry[]> = { compute: [], io: [] };
  private readonly active: Record<Lane, Entry | null> = { compute: null, io: null };
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly events: EventHub<EventMap>,
    private readonly opts: JobHostOptions = {},
  ) {}

  submit(s: SubmitJob): Job {
    if (this.closed) throw new ConflictError('the job host is closed');
    const info = jobKindInfo(s.payload.kind);
    let resolve!: (j: Job) => void;
    const done = new Promise<Job>((r) => (resolve = r));
    const job: Job = {
      jobId: `${s.payload.kind}-${randomUUID().slice(0, 8)}`,
      kind: s.payload.kind,
      lane: info.lane,
      label: s.label,
      runId: s.runId ?? null,
      datasetId: s.datasetId ?? null,
      state: 'queued',
      phase: 'queued',
      done: 0,
      total: null,
      etaSeconds: null,
      message: null,
      error: null,
      createdAt: new Date().toISOString(),
      startedAt: null,
      finishedAt: null,
    };
    const entry: Entry = {
      job,
      info,
      submit: s,
      control: new SharedArrayBuffer(CONTROL_BYTES),
      worker: null,
      inProcess: s.inProcess ?? this.opts.inProcess ?? false,
      delivered: false,
      lastSign: Date.now(),
      cancelAt: null,
      lastPush: 0,
      startedMs: 0,
      done,
      resolve,
    };
    this.entries.set(job.jobId, entry);
    this.queues[info.lane].push(entry);
    if (s.runDir) writeOwner(s.runDir);
    this.push(entry);
    this.ensureTimer();
    this.pump(info.lane);
    return job;
  }

  get(jobId: string): Job {
    return this.entry(jobId).job;
  }

  list(): Job[] {
    return [...this.entries.values()].map((e) => e.job);
  }

  /** Resolves with the job once it has ended (completed, failed or cancelled). */
  wait(jobId: string): Promise<Job> {
    const e = this.entries.get(jobId);
    if (!e) return Promise.reject(new NotFoundError(`job ${jobId} does not exist (finished jobs are kept only while the process runs)`));
    return e.done;
  }

  /**
   * A queued job ends cancelled at once; a running one is asked to stop at its next step (or its
   * worker is terminated, for kinds without a safe point to stop at).
   */
  cancel(jobId: string): Job {
    const e = this.entry(jobId);
    if (e.job.state === 'queued') {
      const q = this.queues[e.info.lane];
      q.splice(q.indexOf(e), 1);
      this.finish(e, 'cancelled', 'cancelled before it started');
    } else if (e.job.state === 'running') {
      Atomics.store(new Int32Array(e.control), CONTROL.cancel, 1);
      e.cancelAt ??= Date.now();
      if (e.info.cancelBy === 'terminate' && e.worker) this.finish(e, 'cancelled', 'cancelled');
    }
    return e.job;
  }

  /**
   * Kind-specific detail for a job's next 'job.updated' (training's step detail, the dataset a
   * dataset job made); pushed with the job's next progress or end, not on its own.
   */
  annotate(jobId: string, detail: Partial<Pick<Job, 'training' | 'datasetId'>>): void {
    const e = this.entries.get(jobId);
    if (!e || isEnded(e.job.state)) return;
    Object.assign(e.job, detail);
  }

  /** Tests only: lets a job held by its test gate go on. */
  release(jobId: string): void {
    Atomics.store(new Int32Array(this.entry(jobId).control), CONTROL.release, 1);
  }

  /**
   * Ends a job now with the given state and reason, recorded synchronously (the caller may close
   * the store right after); its worker is terminated.
   */
  abandon(jobId: string, state: 'failed' | 'cancelled', error: string): void {
    const e = this.entries.get(jobId);
    if (!e || isEnded(e.job.state)) return;
    const q = this.queues[e.info.lane];
    if (q.includes(e)) q.splice(q.indexOf(e), 1);
    Atomics.store(new Int32Array(e.control), CONTROL.cancel, 1); // an in-process job stops at its next step
    this.finish(e, state, error);
  }

  /**
   * Stops taking jobs; queued jobs end cancelled and running ones failed, recorded synchronously,
   * then their workers are terminated. The promise settles once they have exited.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const workers: Worker[] = [];
    for (const lane of ['compute', 'io'] as const) {
      for (const e of this.queues[lane].splice(0)) this.finish(e, 'cancelled', 'the application closed before the job started');
      const a = this.active[lane];
      if (a) {
        if (a.worker) workers.push(a.worker);
        a.worker = null; // terminated below, awaited
        Atomics.store(new Int32Array(a.control), CONTROL.cancel, 1);
        this.finish(a, 'failed', 'the application closed while the job ran');
      }
    }
    this.closing = Promise.all(workers.map((w) => w.terminate().then(() => undefined, () => undefined))).then(() => undefined);
    return this.closing;
  }

  // -------------------------------------------------------------------------------------------

  private entry(jobId: string): Entry {
    const e = this.entries.get(jobId);
    if (!e) throw new NotFoundError(`job ${jobId} does not exist (finished jobs are kept only while the process runs)`);
    return e;
  }

  private push(e: Entry, force = true): void {
    const now = Date.now();
    if (!force && now - e.lastPush < (this.opts.progressIntervalMs ?? 100)) return;
    e.lastPush = now;
    this.events.emit('job.updated', { ...e.job });
    try {
      e.submit.onUpdate?.(e.job);
    } catch {
      /* a listener's failure is not the job's */
    }
  }

  private ensureTimer(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => this.tick(), this.opts.pollMs ?? 500);
    this.timer.unref();
  }

  private pump(lane: Lane): void {
    if (this.active[lane] || this.closed) return;
    const e = this.queues[lane].shift();
    if (!e) return;
    this.active[lane] = e;
    Object.assign(e.job, { state: 'running', phase: 'starting', startedAt: new Date().toISOString() });
    e.startedMs = Date.now();
    e.lastSign = Date.now();
    try {
      e.submit.onStart?.(e.job);
    } catch (err) {
      this.finish(e, 'failed', (err as Error).message);
      return;
    }
    this.push(e);
    const input: JobWorkerInput = { payload: e.submit.payload, control: e.control };
    if (e.inProcess) {
      void this.runInProcess(e, input);
      return;
    }
    let worker: Worker;
    try {
      worker = (this.opts.createWorker ?? createJobWorker)(input);
    } catch (err) {
      this.finish(e, 'failed', `could not start the ${e.info.noun} worker: ${(err as Error).message}`);
      return;
    }
    e.worker = worker;
    worker.on('message', (m: JobWorkerMessage) => void this.onMessage(e, m));
    // Uncaught exceptions and out-of-memory in the worker land here.
    worker.on('error', (err) => this.finish(e, 'failed', `${e.info.noun} worker crashed: ${err.message}`));
    worker.on('exit', (code) => {
      if (!e.delivered) this.finish(e, 'failed', `${e.info.noun} worker exited unexpectedly (exit code ${code})`);
    });
  }

  private async runInProcess(e: Entry, input: JobWorkerInput): Promise<void> {
    try {
      const outcome = await runJob(input.payload, createJobContext(new Int32Array(input.control), (m) => void this.onMessage(e, m)));
      await this.onMessage(e, { type: 'done', outcome });
    } catch (err) {
      await this.onMessage(e, { type: 'error', message: err instanceof Error ? err.message : String(err) });
    }
  }

  private async onMessage(e: Entry, m: JobWorkerMessage): Promise<void> {
    const control = new Int32Array(e.control);
    if (e.job.state !== 'running') {
      // An ended job waiting for a confirmation must not wait forever (in-process jobs live on).
      if (m.type === 'event' && m.confirm) Atomics.store(control, CONTROL.refused, 1);
      return;
    }
    e.lastSign = Date.now();
    switch (m.type) {
      case 'progress':
        this.progress(e, m.progress);
        break;
      case 'event':
        try {
          e.submit.onEvent?.(m.event, e.job);
          if (m.confirm) {
            Atomics.add(control, CONTROL.confirmed, 1);
            Atomics.notify(control, CONTROL.confirmed);
          }
        } catch (err) {
          if (m.confirm) Atomics.store(control, CONTROL.refused, 1);
          this.finish(e, 'failed', `could not store the job's report: ${(err as Error).message}`);
        }
        break;
      case 'done':
        e.delivered = true;
        try {
          await e.submit.onDone?.(m.outcome, e.job);
          if (m.outcome.status === 'cancelled') this.finish(e, 'cancelled', m.outcome.message);
          else this.finish(e, 'completed', null);
        } catch (err) {
          this.finish(e, 'failed', `could not store the result: ${(err as Error).message}`);
        }
        break;
      case 'error':
        e.delivered = true;
        this.finish(e, 'failed', m.message);
        break;
    }
  }

  private progress(e: Entry, p: JobProgress): void {
    const phaseChanged = p.phase !== e.job.phase;
    let eta = p.etaSeconds ?? null;
    if (p.etaSeconds === undefined && p.total !== null && p.total > 0 && p.done > 0) {
      // Done so far over time so far: good enough for jobs whose units cost about the same.
      eta = ((Date.now() - e.startedMs) / 1000 / p.done) * Math.max(0, p.total - p.done);
    }
    Object.assign(e.job, { phase: p.phase, done: p.done, total: p.total, etaSeconds: eta, message: p.message ?? e.job.message });
    this.push(e, phaseChanged || (p.total !== null && p.done >= p.total));
  }

  private finish(e: Entry, state: EndState, error: string | null): void {
    if (isEnded(e.job.state)) return;
    Object.assign(e.job, { state, error, phase: state, finishedAt: new Date().toISOString() });
    if (state === 'completed') e.job.etaSeconds = 0;
    // An in-process job has no worker to terminate: it stops at its next cancel check.
    Atomics.store(new Int32Array(e.control), CONTROL.cancel, 1);
    if (e.worker) void e.worker.terminate().catch(() => undefined);
    e.worker = null;
    if (e.submit.runDir) removeOwner(e.submit.runDir);
    try {
      e.submit.onEnd?.(e.job);
    } catch {
      /* the end is already recorded on the job */
    }
    this.push(e);
    e.resolve(e.job);
    if (this.active[e.info.lane] === e) this.active[e.info.lane] = null;
    this.prune();
    this.pump(e.info.lane);
    this.stopTimerIfIdle();
  }

  private stopTimerIfIdle(): void {
    if (this.timer && !this.active.compute && !this.active.io && this.queues.compute.length === 0 && this.queues.io.length === 0) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private tick(): void {
    const now = Date.now();
    for (const e of this.entries.values()) {
      if (isEnded(e.job.state)) continue;
      const runId = e.job.runId;
      if (e.submit.runDir) writeOwner(e.submit.runDir);
      if (runId !== null && this.opts.cancelRequested) {
        try {
          if (this.opts.cancelRequested(runId)) this.cancel(e.job.jobId);
        } catch {
          /* the database may be busy; try again next tick */
        }
      }
      if (isEnded(e.job.state)) continue;
      try {
        e.submit.onTick?.(e.job);
      } catch {
        /* retried next tick */
      }
      const graceMs = this.opts.cancelGraceMs ?? e.info.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS;
      if (e.job.state === 'running' && e.cancelAt !== null && now - e.cancelAt > graceMs) {
        this.finish(e, 'cancelled', `cancelled: the ${e.info.noun} job did not stop at a safe point within ${limitText(graceMs)}, so it was stopped`);
        continue;
      }
      const stallMs = this.opts.stallAfterMs ?? e.info.stallAfterMs;
      if (e.job.state === 'running' && now - e.lastSign > stallMs) {
        this.abandon(e.job.jobId, 'failed', `the ${e.info.noun} job sent no progress for ${limitText(stallMs)} and was stopped (limit for '${e.job.kind}' jobs)`);
      }
    }
  }

  private prune(): void {
    const keep = this.opts.keepFinished ?? 50;
    const finished = [...this.entries.values()].filter((x) => isEnded(x.job.state));
    for (const x of finished.slice(0, Math.max(0, finished.length - keep))) this.entries.delete(x.job.jobId);
  }
}

/**
 * Dataset jobs (import a folder, generate a phantom, prepare slices, fetch open MS): one queue
 * per host process, each job in a worker thread so the main process (Electron IPC, the bridge)
 * stays responsive. Requests are checked before they are queued (name taken, folder missing,
 * unknown dataset, bad slice preset) so the caller gets the reason at once; each state change
 * and (throttled) progress is pushed as 'data.job', and 'dataset.updated' follows a success.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { DataJob, EventMap } from '../../shared/contract';
import { parseSlicePreset } from '../../ml/data/slices';
import type { EventHub } from '../events';
import type { HomeLayout } from '../home';
import type { Store } from '../store';
import { ConflictError, InvalidInputError, NotFoundError } from '../errors';
import { runDataJob, type DataJobInput, type DataJobSpec } from '../data/data-job-run';
import { OPEN_MS_DEFAULT_NAME } from '../data/datasets';

export type { DataJobSpec } from '../data/data-job-run';

export type DataWorkerReply =
  | { type: 'progress'; phase: string; done: number; total: number | null }
  | { type: 'done'; datasetId: number }
  | { type: 'error'; message: string };

export type DataWorkerFactory = (input: DataJobInput) => Worker;

/** Dev, CLI, bridge and tests: the TypeScript worker through the tsx shim. */
export function tsxDataWorkerFactory(input: DataJobInput): Worker {
  return new Worker(new URL('./data-worker-shim.mjs', import.meta.url), { workerData: input });
}

let defaultFactory: DataWorkerFactory = tsxDataWorkerFactory;

/** The Electron main installs its bundled worker before opening services. */
export function setDefaultDataWorkerFactory(factory: DataWorkerFactory): void {
  defaultFactory = factory;
}

export interface DataJobHostOptions {
  /** Run jobs in the calling thread (tests); default: a worker thread per job. */
  inProcess?: boolean;
  createWorker?: DataWorkerFactory;
  /** Minimum milliseconds between pushed progress events of one job. */
  progressIntervalMs?: number;
  /** Finished jobs kept in the list. */
  keepFinished?: number;
}

interface Entry {
  job: DataJob;
  spec: DataJobSpec;
  lastPush: number;
  worker: Worker | null;
  done: Promise<DataJob>;
  resolve(job: DataJob): void;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._ -]{0,199}$/;

function labelOf(spec: DataJobSpec, datasetName: string | undefined): string {
  switch (spec.kind) {
    case 'import':
      return `Import ${spec.dir} as "${spec.name}"`;
    case 'phantom':
      return `Synthetic phantom "${spec.name}" (${spec.subjects} subject${spec.subjects === 1 ? '' : 's'})`;
    case 'prepare':
      return `Prepare slices of "${datasetName ?? spec.datasetId}"`;
    case 'fetch-open-ms':
      return `Download open MS data as "${spec.name ?? OPEN_MS_DEFAULT_NAME}"`;
  }
}

export class DataJobHost {
  private readonly entries = new Map<string, Entry>();
  private readonly queue: Entry[] = [];
  private active: Entry | null = null;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly home: HomeLayout,
    private readonly events: EventHub<EventMap>,
    private readonly opts: DataJobHostOptions = {},
  ) {}

  /** Validates and queues a job; throws (nothing queued) when the request cannot succeed. */
  submit(spec: DataJobSpec): DataJob {
    if (this.closed) throw new ConflictError('the dataset job queue is closed');
    const normalised = this.check(spec);
    const datasetName =
      normalised.kind === 'prepare'
        ? (this.store.db.prepare('SELECT name FROM datasets WHERE id = ?').get(normalised.datasetId) as { name: string } | undefined)?.name
        : undefined;
    let resolveDone!: (job: DataJob) => void;
    const entry: Entry = {
      job: {
        jobId: randomUUID(),
        kind: normalised.kind,
        label: labelOf(normalised, datasetName),
        state: 'queued',
        phase: 'queued',
        done: 0,
        total: null,
        datasetId: normalised.kind === 'prepare' ? normalised.datasetId : null,
        error: null,
        createdAt: new Date().toISOString(),
        finishedAt: null,
      },
      spec: normalised,
      lastPush: 0,
      worker: null,
      done: new Promise<DataJob>((r) => (resolveDone = r)),
      resolve: (job) => resolveDone(job),
    };
    this.entries.set(entry.job.jobId, entry);
    this.queue.push(entry);
    this.push(entry);
    this.pump();
    return { ...entry.job };
  }

  list(): DataJob[] {
    return [...this.entries.values()].map((e) => ({ ...e.job })).reverse();
  }

  get(jobId: string): DataJob {
    const e = this.entries.get(jobId);
    if (!e) throw new NotFoundError(`dataset job ${jobId} does not exist`);
    return { ...e.job };
  }

  /** Resolves when the job has completed or failed. */
  wait(jobId: string): Promise<DataJob> {
    const e = this.entries.get(jobId);
    if (!e) return Promise.reject(new NotFoundError(`dataset job ${jobId} does not exist`));
    return e.done;
  }

  /** Stops taking jobs and terminates a running worker (its dataset write is all-or-nothing). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    void this.active?.worker?.terminate();
  }

  private check(spec: DataJobSpec): DataJobSpec {
    const db = this.store.db;
    const nameFree = (name: string) => {
      const n = name.trim();
      if (!NAME_RE.test(n)) throw new InvalidInputError(`dataset name "${name}": use letters, digits, space, dot, dash or underscore (1-200 characters)`);
      if (db.prepare('SELECT 1 FROM datasets WHERE name = ?').get(n)) throw new ConflictError(`a dataset named "${n}" already exists; choose another name`);
      const pending = [...this.entries.values()].some(
        (e) => (e.job.state === 'queued' || e.job.state === 'running') && 'name' in e.spec && e.spec.name?.trim() === n,
      );
      if (pending) throw new ConflictError(`a dataset named "${n}" is already being created by a queued job`);
      return n;
    };
    switch (spec.kind) {
      case 'import': {
        const dir = resolve(spec.dir);
        if (!existsSync(dir)) throw new InvalidInputError(`${dir}: folder not found`);
        if (!statSync(dir).isDirectory()) throw new InvalidInputError(`${dir}: not a folder (import takes a BIDS-like folder of sub-*/anat/*.nii.gz)`);
        return { kind: 'import', dir, name: nameFree(spec.name) };
      }
      case 'phantom':
        return { ...spec, name: nameFree(spec.name) };
      case 'prepare': {
        if (!db.prepare('SELECT 1 FROM datasets WHERE id = ?').get(spec.datasetId)) throw new NotFoundError(`dataset ${spec.datasetId} does not exist`);
        if (spec.slices !== undefined) {
          try {
            parseSlicePreset(spec.slices);
          } catch (err) {
            throw new InvalidInputError(err instanceof Error ? err.message.replace('--slices', 'slices') : String(err));
          }
        }
        if (spec.fractions && !(spec.fractions.reduce((a, b) => a + b, 0) > 0)) throw new InvalidInputError('split fractions must not all be zero');
        return spec;
      }
      case 'fetch-open-ms':
        return { ...spec, name: nameFree(spec.name ?? OPEN_MS_DEFAULT_NAME) };
    }
  }

  private push(entry: Entry, force = true): void {
    const now = Date.now();
    if (!force && now - entry.lastPush < (this.opts.progressIntervalMs ?? 100)) return;
    entry.lastPush = now;
    this.events.emit('data.job', { ...entry.job });
  }

  private pump(): void {
    if (this.active || this.closed) return;
    const next = this.queue.shift();
    if (!next) return;
    this.active = next;
    next.job.state = 'running';
    next.job.phase = 'starting';
    this.push(next);
    const input: DataJobInput = { spec: next.spec, dbPath: this.store.path, homeRoot: this.home.root };
    const progress = (phase: string, done: number, total: number | null) => {
      const phaseChanged = phase !== next.job.phase;
      Object.assign(next.job, { phase, done, total });
      this.push(next, phaseChanged || (total !== null && done >= total));
    };
    if (this.opts.inProcess) {
      runDataJob(input, progress).then(
        (id) => this.finish(next, { type: 'done', datasetId: id }),
        (err: unknown) => this.finish(next, { type: 'error', message: err instanceof Error ? err.message : String(err) }),
      );
      return;
    }
    let worker: Worker;
    try {
      worker = (this.opts.createWorker ?? defaultFactory)(input);
    } catch (err) {
      this.finish(next, { type: 'error', message: `could not start the dataset worker: ${err instanceof Error ? err.message : String(err)}` });
      return;
    }
    next.worker = worker;
    worker.on('message', (m: DataWorkerReply) => {
      if (m.type === 'progress') progress(m.phase, m.done, m.total);
      else this.finish(next, m);
    });
    worker.on('error', (err) => this.finish(next, { type: 'error', message: `dataset worker crashed: ${err.message}` }));
    worker.on('exit', (code) => {
      if (next.job.state === 'running') this.finish(next, { type: 'error', message: `dataset worker exited (code ${code}) before finishing` });
    });
  }

  private finish(entry: Entry, reply: Exclude<DataWorkerReply, { type: 'progress' }>): void {
    if (entry.job.state !== 'running') return;
    entry.job.finishedAt = new Date().toISOString();
    if (reply.type === 'done') {
      Object.assign(entry.job, { state: 'completed', phase: 'done', datasetId: reply.datasetId, error: null });
    } else {
      Object.assign(entry.job, { state: 'failed', phase: 'failed', error: reply.message });
    }
    void entry.worker?.terminate();
    entry.worker = null;
    this.push(entry);
    if (reply.type === 'done') this.events.emit('dataset.updated', { datasetId: reply.datasetId });
    entry.resolve({ ...entry.job });
    this.active = null;
    this.prune();
    this.pump();
  }

  private prune(): void {
    const keep = this.opts.keepFinished ?? 50;
    const finished = [...this.entries.values()].filter((e) => e.job.state === 'completed' || e.job.state === 'failed');
    for (const e of finished.slice(0, Math.max(0, finished.length - keep))) this.entries.delete(e.job.jobId);
  }
}

/**
 * Dataset jobs (import a folder, generate a phantom, prepare slices, fetch open MS) as jobs of the
 * back end's job host (io lane, beside training and sampling), each in a worker thread so the main
 * process (Electron IPC, the bridge) stays responsive. Requests are checked before they are queued (name taken, folder missing,
 * unknown dataset, bad slice preset) so the caller gets the reason at once; each state change
 * and (throttled) progress is pushed as 'data.job', and 'dataset.updated' follows a success.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DataJob, EventMap } from '../../shared/contract';
import { parseSlicePreset } from '../../ml/data/slices';
import type { EventHub } from '../events';
import type { HomeLayout } from '../home';
import type { Store } from '../store';
import { ConflictError, InvalidInputError, NotFoundError } from '../errors';
import type { DataJobSpec } from './data-job-run';
import { OPEN_MS_DEFAULT_NAME } from './datasets';
import { datasetById, datasetByName } from '../store/datasets';
import { JobHost } from '../jobs/host';

export type { DataJobSpec } from './data-job-run';

export interface DataJobsOptions {
  /** Run jobs in the calling thread (tests) when this service builds its own host. */
  inProcess?: boolean;
  /** The back end's job host; a service built without one (tests) gets its own. */
  host?: JobHost;
}

interface Entry {
  job: DataJob;
  spec: DataJobSpec;
  done: Promise<DataJob>;
  resolve(job: DataJob): void;
}

const HOST_KIND = { import: 'import', phantom: 'phantom', prepare: 'prepare', 'fetch-open-ms': 'fetch' } as const;

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

export class DataJobs {
  private readonly entries = new Map<string, Entry>();
  private readonly host: JobHost;
  private readonly ownHost: boolean;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly home: HomeLayout,
    private readonly events: EventHub<EventMap>,
    opts: DataJobsOptions = {},
  ) {
    this.ownHost = !opts.host;
    this.host = opts.host ?? new JobHost(events, { inProcess: opts.inProcess });
  }

  /** Validates and queues a job; throws (nothing queued) when the request cannot succeed. */
  submit(spec: DataJobSpec): DataJob {
    if (this.closed) throw new ConflictError('the dataset job queue is closed');
    const normalised = this.check(spec);
    const datasetName =
      normalised.kind === 'prepare'
        ? datasetById(this.store.db, normalised.datasetId)?.name
        : undefined;
    let resolveDone!: (job: DataJob) => void;
    const label = labelOf(normalised, datasetName);
    const entry: Entry = {
      job: {
        jobId: '',
        kind: normalised.kind,
        label,
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
      done: new Promise<DataJob>((r) => (resolveDone = r)),
      resolve: (job) => resolveDone(job),
    };
    let datasetId: number | null = entry.job.datasetId;
    const hostJob = this.host.submit({
      payload: { kind: HOST_KIND[normalised.kind], input: { spec: normalised, dbPath: this.store.path, homeRoot: this.home.root } },
      label,
      datasetId,
      onDone: (outcome) => {
        datasetId = outcome.result as number;
        if (outcome.status === 'completed') this.host.annotate(entry.job.jobId, { datasetId });
      },
      onUpdate: (j) => {
        if (!entry.job.jobId) entry.job.jobId = j.jobId;
        Object.assign(entry.job, { state: j.state, phase: j.state === 'completed' ? 'done' : j.phase, done: j.done, total: j.total, error: j.error, finishedAt: j.finishedAt });
        if (j.state === 'completed') entry.job.datasetId = datasetId;
        this.events.emit('data.job', { ...entry.job });
      },
      onEnd: (j) => {
        if (j.state === 'completed' && datasetId !== null) this.events.emit('dataset.updated', { datasetId });
        // The final 'job.updated' (and so 'data.job') follows onEnd; the waiter gets the same record.
        queueMicrotask(() => entry.resolve({ ...entry.job }));
      },
    });
    entry.job.jobId = hostJob.jobId;
    this.entries.set(hostJob.jobId, entry);
    this.prune();
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

  /** Resolves when the job has completed, failed or been cancelled. */
  wait(jobId: string): Promise<DataJob> {
    const e = this.entries.get(jobId);
    if (!e) return Promise.reject(new NotFoundError(`dataset job ${jobId} does not exist`));
    return e.done;
  }

  /** Stops the job; its dataset write is all-or-nothing, so nothing half-made stays. */
  cancel(jobId: string): DataJob {
    this.get(jobId);
    this.host.cancel(jobId);
    return this.get(jobId);
  }

  /** Stops taking jobs; a host built here is closed (its running worker terminated). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const e of this.entries.values()) {
      if (e.job.state === 'queued' || e.job.state === 'running') this.host.abandon(e.job.jobId, e.job.state === 'queued' ? 'cancelled' : 'failed', 'the application closed while the dataset job ran');
    }
    if (this.ownHost) void this.host.close();
  }

  private check(spec: DataJobSpec): DataJobSpec {
    const db = this.store.db;
    const nameFree = (name: string) => {
      const n = name.trim();
      if (!NAME_RE.test(n)) throw new InvalidInputError(`dataset name "${name}": use letters, digits, space, dot, dash or underscore (1-200 characters)`);
      if (datasetByName(db, n)) throw new ConflictError(`a dataset named "${n}" already exists; choose another name`);
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
        if (!datasetById(db, spec.datasetId)) throw new NotFoundError(`dataset ${spec.datasetId} does not exist`);
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

  private prune(): void {
    const keep = 50;
    const finished = [...this.entries.values()].filter((e) => e.job.state !== 'queued' && e.job.state !== 'running');
    for (const e of finished.slice(0, Math.max(0, finished.length - keep))) this.entries.delete(e.job.jobId);
  }
}

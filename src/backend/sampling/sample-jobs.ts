/**
 * Sampling jobs (Generate-view slices, whole-volume translations, evaluation runs) as jobs of the
 * back end's job host (compute lane: one at a time, never beside training), each in a worker
 * thread. This keeps each job's state and result in memory for the views, pushes 'job.progress'
 * events and calls the job's onDone on the host thread, where results are stored (the worker
 * never touches the database). Tests and the CLI may run jobs in-process, which runs the same code.
 */
import type { EventMap } from '../../shared/contract';
import type { SampleJobProgress, SampleJobResult, SampleJobSpec } from '../../ml/sample/jobs';
import type { EventHub } from '../events';
import { NotFoundError } from '../errors';
import { JobHost, type JobWorkerFactory } from '../jobs/host';
import type { SampleWorkerEvent } from './worker-events';

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
  /** The run's folder, for a job that owns its run (ownership heartbeat, cross-process cancel). */
  runDir?: string;
  /** Called on the host thread when the job leaves the queue and starts. */
  onStart?(job: SampleJob): void;
  /** Called on the host thread once the job has a result (store it here); a throw fails the job. */
  onDone?(result: SampleJobResult, job: SampleJob): void | Promise<void>;
  onFail?(error: string, job: SampleJob): void;
}

export interface SampleJobsOptions {
  /** Run jobs in this thread instead of a worker (CLI, tests). */
  inProcess?: boolean;
  /** For a host built here (tests). */
  createWorker?: JobWorkerFactory;
  /** The back end's job host; built here when absent (tests). */
  host?: JobHost;
  /** Cross-process cancel for a host built here. */
  cancelRequested?(runId: number): boolean;
}

const HOST_KIND = { slice: 'generate', volume: 'translate', evaluate: 'evaluate' } as const;

export class SampleJobs {
  private readonly entries = new Map<string, { job: SampleJob; done: Promise<SampleJob> }>();
  private readonly host: JobHost;
  private readonly ownHost: boolean;

  constructor(
    private readonly events: EventHub<EventMap>,
    private readonly opts: SampleJobsOptions = {},
  ) {
    this.ownHost = !opts.host;
    this.host = opts.host ?? new JobHost(events, { inProcess: opts.inProcess, createWorker: opts.createWorker, cancelRequested: opts.cancelRequested });
  }

  submit(spec: SampleJobSpec, opts: SubmitOptions = {}): SampleJob {
    let resolve!: (j: SampleJob) => void;
    const done = new Promise<SampleJob>((r) => (resolve = r));
    const job: SampleJob = {
      id: '',
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
    const kind = HOST_KIND[spec.kind];
    const emit = (phase: string) =>
      this.events.emit('job.progress', {
        jobId: job.id,
        kind,
        runId: job.runId,
        phase,
        done: job.progress?.done ?? 0,
        total: job.progress?.total ?? null,
        message: job.error ?? job.progress?.message ?? phase,
      });
    const hostJob = this.host.submit({
      payload: { kind, spec },
      label: `${kind[0]!.toUpperCase()}${kind.slice(1)}${job.runId !== null ? ` (run ${job.runId})` : ''}`,
      runId: job.runId,
      ...(opts.runDir ? { runDir: opts.runDir } : {}),
      ...(this.opts.inProcess !== undefined ? { inProcess: this.opts.inProcess } : {}),
      onStart: () => {
        job.state = 'running';
        opts.onStart?.(job);
        emit('running');
      },
      onEvent: (e) => {
        const m = e as SampleWorkerEvent;
        if (m.type === 'started') job.backend = m.backend;
        else {
          job.progress = m.progress;
          emit(m.progress.phase);
        }
      },
      onDone: async (outcome) => {
        if (outcome.status !== 'completed') return;
        job.result = outcome.result as SampleJobResult;
        await opts.onDone?.(job.result, job);
      },
      onEnd: (j) => {
        Object.assign(job, { state: j.state, error: j.error, finishedAt: j.finishedAt });
        if (j.state !== 'completed') {
          try {
            opts.onFail?.(j.error ?? j.state, job);
          } catch {
            /* the failure is already recorded on the job */
          }
        }
        emit(j.state);
        resolve(job);
      },
    });
    job.id = hostJob.jobId;
    this.entries.set(job.id, { job, done });
    if (job.state === 'queued') emit('queued');
    this.prune();
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
    const job = this.get(jobId);
    this.host.cancel(jobId);
    return job;
  }

  /**
   * Stops this service's jobs: queued ones end cancelled and a running one failed, recorded
   * synchronously (so the caller can close the store right after). The promise settles once a
   * host built here has terminated its workers.
   */
  close(): Promise<void> {
    for (const { job } of this.entries.values()) {
      if (job.state === 'queued') this.host.abandon(job.id, 'cancelled', 'the application closed before the job started');
      else if (job.state === 'running') this.host.abandon(job.id, 'failed', 'the application closed while the job ran');
    }
    return this.ownHost ? this.host.close() : Promise.resolve();
  }

  private prune(): void {
    const keep = 20;
    const finished = [...this.entries.values()].filter((x) => x.job.finishedAt !== null);
    for (const x of finished.slice(0, Math.max(0, finished.length - keep))) this.entries.delete(x.job.id);
  }
}

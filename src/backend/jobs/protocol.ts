import type { JobOutcome, JobPayload, JobProgress } from './run-job';

/** Messages between the job host and the job worker thread (worker.ts). */
export interface JobWorkerInput {
  payload: JobPayload;
  /** Int32 slot 0: cancel requested; slot 1: a test-held job may go on. */
  control: SharedArrayBuffer;
}

export type JobWorkerMessage =
  | { type: 'progress'; progress: JobProgress }
  | { type: 'event'; event: unknown }
  | { type: 'done'; outcome: JobOutcome }
  | { type: 'error'; message: string };

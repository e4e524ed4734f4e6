import type { JobOutcome, JobPayload, JobProgress } from './run-job';

/** Messages between the job host and the job worker thread (worker.ts). */
export interface JobWorkerInput {
  payload: JobPayload;
  /** Int32 slots shared with the job (see CONTROL in job-context.ts). */
  control: SharedArrayBuffer;
}

export type JobWorkerMessage =
  | { type: 'progress'; progress: JobProgress }
  /** `confirm`: the job waits until the host counts this event handled (or refuses it). */
  | { type: 'event'; event: unknown; confirm?: boolean }
  | { type: 'done'; outcome: JobOutcome }
  | { type: 'error'; message: string };

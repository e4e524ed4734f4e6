/** What a running job sees of its host, in the worker or in the host's thread (see run-job.ts). */
export interface JobProgress {
  phase: string;
  done: number;
  total: number | null;
  message?: string;
  /** When the kind knows better than done/total over elapsed time (training's step rate). */
  etaSeconds?: number | null;
}

export interface JobContext {
  /** Int32 slot 0: cancel requested; slot 1: a test-held job may go on. */
  control: Int32Array;
  cancelled(): boolean;
  progress(p: JobProgress): void;
  /** A kind-specific message for the submitter's onEvent (metrics, checkpoints, ...). */
  event(e: unknown): void;
}

/** How a job ended when it did not throw (a throw is a failure). */
export type JobOutcome = { status: 'completed'; result: unknown } | { status: 'cancelled'; result: unknown; message: string };

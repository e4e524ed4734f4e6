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
  /** The shared control slots (see CONTROL in job-context.ts). */
  control: Int32Array;
  cancelled(): boolean;
  progress(p: JobProgress): void;
  /** A kind-specific message for the submitter's onEvent (metrics, checkpoints, ...). */
  event(e: unknown): void;
  /**
   * Like event(), but resolves only once the host has handled it (stored what it reports, and
   * everything sent before it); rejects when the host could not, and the job should stop.
   */
  confirm(e: unknown): Promise<void>;
}

/** How a job ended when it did not throw (a throw is a failure). */
export type JobOutcome = { status: 'completed'; result: unknown } | { status: 'cancelled'; result: unknown; message: string };

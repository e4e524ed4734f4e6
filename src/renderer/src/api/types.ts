import type { Checkpoint, EventPayload, MetricSummary, Run, RunParent, TrainingProgress } from '../../../shared/contract';

/**
 * The shapes the views render, derived from the shared IPC contract's types so a contract change
 * shows up here at compile time. The adapter (./client) maps contract records onto them.
 */
export type { RunStage, RunStatus } from '../../../shared/contract';

/** One metric's last and best values, flattened for tables. */
export interface MetricSummaryRow extends Pick<MetricSummary, 'name' | 'split' | 'count'> {
  last: MetricSummary['last']['value'] | null;
  lastStep: MetricSummary['last']['step'] | null;
  best: MetricSummary['best']['value'] | null;
  bestStep: MetricSummary['best']['step'] | null;
  /** Which way is better: 'min' for losses and errors, 'max' for PSNR/SSIM-like scores. */
  goal: MetricSummary['goal'] | null;
  /** Evaluation runs: the mean over the evaluated images. */
  mean?: number | null;
}

export interface RunParentLink {
  id: RunParent['runId'];
  role: RunParent['role'];
}

export interface RunRow
  extends Pick<Run, 'id' | 'name' | 'stage' | 'status' | 'datasetId' | 'backend' | 'seed' | 'error' | 'createdAt' | 'startedAt' | 'finishedAt' | 'notes' | 'tags'> {
  datasetName: string | null;
  updatedAt: Run['updatedAt'] | null;
  parents: RunParentLink[];
  /** Per-metric last/best, when the list endpoint includes it (null = not loaded). */
  summary: MetricSummaryRow[] | null;
}

export interface RunDetail extends RunRow {
  config: Run['config'];
}

export type ConnectionState = 'connected' | 'connecting' | 'disconnected';

/** Push events the views react to. */
export type LiveEvent = { kind: 'run'; runId: number | null } | { kind: 'metrics'; runId: number | null };

type JobUpdate = EventPayload<'job.updated'>;

/** A run's live progress: the 'job.updated' fields, with the training detail flattened. */
export interface RunProgress extends Pick<JobUpdate, 'phase' | 'done' | 'total'> {
  message: JobUpdate['message'];
  etaSeconds: JobUpdate['etaSeconds'];
  epoch: { current: TrainingProgress['epoch']; total: TrainingProgress['epochs'] } | null;
  stepsPerSecond: TrainingProgress['stepsPerSecond'];
  backend: TrainingProgress['backend'];
}

export type CheckpointRow = Pick<Checkpoint, 'id' | 'kind' | 'step' | 'epoch' | 'path' | 'sha256' | 'createdAt'>;

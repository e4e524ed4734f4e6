/**
 * The shapes the views render. The adapter (./client) maps the shared IPC contract onto these, so a
 * contract change touches one file, not every view.
 */
export type RunStage = 'autoencoder' | 'ldm' | 'controlnet' | 'evaluation';
export type RunStatus = 'created' | 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

export interface MetricSummaryRow {
  name: string;
  split: string;
  last: number | null;
  lastStep: number | null;
  best: number | null;
  bestStep: number | null;
  count: number;
  /** Which way is better: 'min' for losses and errors, 'max' for PSNR/SSIM-like scores. */
  goal: 'min' | 'max' | null;
}

export interface RunParentLink {
  id: number;
  role: string;
}

export interface RunRow {
  id: number;
  name: string | null;
  stage: RunStage | string;
  status: RunStatus | string;
  datasetId: number | null;
  datasetName: string | null;
  backend: string | null;
  seed: number | null;
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string | null;
  parents: RunParentLink[];
  /** Per-metric last/best, when the list endpoint includes it (null = not loaded). */
  summary: MetricSummaryRow[] | null;
}

export interface RunDetail extends RunRow {
  config: unknown;
}

export type ConnectionState = 'connected' | 'connecting' | 'disconnected';

/** Push events the views react to. */
export type LiveEvent = { kind: 'run'; runId: number | null } | { kind: 'metrics'; runId: number | null };

export interface RunProgress {
  phase: string;
  done: number;
  total: number | null;
  message: string | null;
  etaSeconds: number | null;
  epoch: { current: number; total: number } | null;
  stepsPerSecond: number | null;
  backend: string | null;
}

export interface CheckpointRow {
  id: number;
  kind: string;
  step: number;
  epoch: number | null;
  path: string;
  sha256: string;
  createdAt: string;
}

import type { ArtefactEvent, CheckpointEvent, MetricOut, TrainProgress, TrainResult } from '../../ml/train/session';

/**
 * What a training job reports to the host besides generic progress (see train-job.ts): the host
 * stores metrics in batches, checkpoints and artefacts, and updates the run.
 */
export type TrainWorkerEvent =
  | { type: 'started'; backend: string }
  | { type: 'metrics'; points: MetricOut[] }
  | { type: 'progress'; progress: TrainProgress }
  /** Confirmed: the host stores pending metrics and the checkpoint rows before the job promotes it. */
  | { type: 'checkpoint'; event: CheckpointEvent }
  | { type: 'artefact'; event: ArtefactEvent }
  | { type: 'log'; message: string }
  /** A test gate holds the job before its next step or at a checkpoint (see JobsOptions). */
  | { type: 'held'; step: number; at: 'step' | 'checkpoint' };

/** A training job's result as the host receives it. */
export interface TrainJobResult {
  result: TrainResult;
  summary: Record<string, unknown>;
}

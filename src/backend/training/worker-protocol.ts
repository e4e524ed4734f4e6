import type { ArtefactEvent, CheckpointEvent, MetricOut, TrainProgress, TrainResult } from '../../ml/train/session';

/**
 * What a training job reports to the host besides generic progress (see train-job.ts): the host
 * stores metrics in batches, checkpoints and artefacts, and updates the run.
 */
export type TrainWorkerEvent =
  | { type: 'started'; backend: string }
  | { type: 'metrics'; points: MetricOut[] }
  | { type: 'progress'; progress: TrainProgress }
  | { type: 'checkpoint'; event: CheckpointEvent }
  | { type: 'artefact'; event: ArtefactEvent }
  | { type: 'log'; message: string }
  /** The test gate holds the job before its next step (see JobsOptions.holdAtStep). */
  | { type: 'held'; step: number };

/** A training job's result as the host receives it. */
export interface TrainJobResult {
  result: TrainResult;
  summary: Record<string, unknown>;
}

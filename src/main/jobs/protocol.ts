import type { TrainJobSpec } from '../../ml/train/spec';
import type { ArtefactEvent, CheckpointEvent, MetricOut, TrainProgress, TrainResult } from '../../ml/train/session';

/**
 * Messages between the job host (main side) and the training worker thread. The cancel flag is a
 * SharedArrayBuffer (Int32 slot 0), read synchronously by the worker between steps: a training
 * step's awaits are microtasks, so a posted 'cancel' message could wait a long time to be seen.
 */
export interface WorkerInput {
  spec: TrainJobSpec;
  cancelFlag: SharedArrayBuffer;
}

export type WorkerMessage =
  | { type: 'started'; backend: string }
  | { type: 'metrics'; points: MetricOut[] }
  | { type: 'progress'; progress: TrainProgress }
  | { type: 'checkpoint'; event: CheckpointEvent }
  | { type: 'artefact'; event: ArtefactEvent }
  | { type: 'log'; message: string }
  | { type: 'done'; result: TrainResult; summary: Record<string, unknown> }
  | { type: 'error'; message: string; name: string; stack?: string };

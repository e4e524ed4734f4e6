import type { TrainJobSpec } from '../../ml/train/spec';
import type { ArtefactEvent, CheckpointEvent, MetricOut, TrainProgress, TrainResult } from '../../ml/train/session';

/**
 * Messages between the job host (main side) and the training worker thread. The cancel flag is a
 * SharedArrayBuffer (Int32 slot 0), read synchronously by the worker between steps: a training
 * step's awaits are microtasks, so a posted 'cancel' message could wait a long time to be seen.
 */
export interface WorkerInput {
  spec: TrainJobSpec;
  /** Int32 slot 0: cancel requested; slot 1: a held job may go on (see holdAtStep). */
  cancelFlag: SharedArrayBuffer;
  /**
   * Tests only: once this many steps are done, the worker waits before the next step until the
   * host releases or cancels it, so a test can act on a job at a known step however fast the
   * machine is.
   */
  holdAtStep?: number;
}

export type WorkerMessage =
  | { type: 'started'; backend: string }
  | { type: 'metrics'; points: MetricOut[] }
  | { type: 'progress'; progress: TrainProgress }
  | { type: 'checkpoint'; event: CheckpointEvent }
  | { type: 'artefact'; event: ArtefactEvent }
  | { type: 'log'; message: string }
  | { type: 'held'; step: number }
  | { type: 'done'; result: TrainResult; summary: Record<string, unknown> }
  | { type: 'error'; message: string; name: string; stack?: string };

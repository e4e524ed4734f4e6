import { runTraining } from '../../ml/train/run';
import type { TrainJobSpec } from '../../ml/train/spec';
import type { JobContext, JobOutcome } from '../jobs/context';
import { CONTROL } from '../jobs/job-context';
import type { TrainWorkerEvent } from './worker-protocol';

/** Test gates: where a job waits until released or cancelled (undefined: never). */
export interface TrainHolds {
  /** Before the next step, once this many steps are done. */
  atStep?: number;
  /**
   * At the checkpoint of this step, after the host has stored everything logged up to it and
   * before the checkpoint becomes the resume point: the boundary a crash test kills at.
   */
  atCheckpoint?: number;
}

/**
 * One training job in the job worker: runs the spec through src/ml/train and reports everything
 * as events (the host is the single database writer). A checkpoint becomes the resume point only
 * after the host confirms it has stored every metric and image reported before it. The holds are
 * test gates, so a test can act on a job at a known point however fast the machine is.
 */
export async function runTrainJob(
  spec: TrainJobSpec,
  holds: TrainHolds,
  ctx: JobContext,
  post: (e: TrainWorkerEvent) => void,
): Promise<JobOutcome> {
  let step = 0;
  let heldAtStep = false;
  const hold = async (at: 'step' | 'checkpoint', holdStep: number) => {
    post({ type: 'held', step: holdStep, at });
    while (!ctx.cancelled() && Atomics.load(ctx.control, CONTROL.release) === 0) await new Promise((r) => setTimeout(r, 20));
  };
  const shouldStop = async (): Promise<boolean> => {
    if (holds.atStep !== undefined && !heldAtStep && step >= holds.atStep && !ctx.cancelled()) {
      heldAtStep = true;
      await hold('step', step);
    }
    return ctx.cancelled();
  };
  const { result, summary } = await runTraining(spec, {
    started: (backend) => post({ type: 'started', backend }),
    metrics: (points) => post({ type: 'metrics', points }),
    progress: (p) => {
      step = p.step;
      post({ type: 'progress', progress: p });
      const losses = Object.entries(p.losses)
        .map(([k, v]) => `${k} ${v.toPrecision(4)}`)
        .join(', ');
      ctx.progress({
        phase: p.phase,
        done: p.step,
        total: p.totalSteps,
        etaSeconds: p.etaSeconds,
        message: `${p.stage} epoch ${Math.min(p.epoch + 1, p.epochs)}/${p.epochs} step ${p.step}/${p.totalSteps}${losses ? ` | ${losses}` : ''}`,
      });
    },
    checkpoint: async (event) => {
      await ctx.confirm({ type: 'checkpoint', event } satisfies TrainWorkerEvent);
      if (holds.atCheckpoint === event.step && !ctx.cancelled()) await hold('checkpoint', event.step);
    },
    artefact: (event) => post({ type: 'artefact', event }),
    log: (message) => post({ type: 'log', message }),
    shouldStop,
  });
  const outcome = { result, summary };
  return result.status === 'cancelled' ? { status: 'cancelled', result: outcome, message: 'cancelled' } : { status: 'completed', result: outcome };
}

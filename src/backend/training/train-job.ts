import { runTraining } from '../../ml/train/run';
import type { TrainJobSpec } from '../../ml/train/spec';
import type { JobContext, JobOutcome } from '../jobs/context';
import type { TrainWorkerEvent } from './worker-protocol';

/**
 * One training job in the job worker: runs the spec through src/ml/train and reports everything
 * as events (the host is the single database writer). `holdAtStep` is the test gate: once that
 * many steps are done the job waits before its next step until released or cancelled, so a test
 * can act on a job at a known step however fast the machine is.
 */
export async function runTrainJob(
  spec: TrainJobSpec,
  holdAtStep: number | undefined,
  ctx: JobContext,
  post: (e: TrainWorkerEvent) => void,
): Promise<JobOutcome> {
  let step = 0;
  let held = false;
  const shouldStop = async (): Promise<boolean> => {
    if (holdAtStep !== undefined && !held && step >= holdAtStep && !ctx.cancelled()) {
      held = true;
      post({ type: 'held', step });
      while (!ctx.cancelled() && Atomics.load(ctx.control, 1) === 0) await new Promise((r) => setTimeout(r, 20));
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
    checkpoint: (event) => post({ type: 'checkpoint', event }),
    artefact: (event) => post({ type: 'artefact', event }),
    log: (message) => post({ type: 'log', message }),
    shouldStop,
  });
  const outcome = { result, summary };
  return result.status === 'cancelled' ? { status: 'cancelled', result: outcome, message: 'cancelled' } : { status: 'completed', result: outcome };
}

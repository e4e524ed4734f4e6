/**
 * What each job kind runs, in whichever thread runs it (the job worker, or the host's thread for
 * in-process jobs): the one switch from a job kind to the src/ml (or dataset) function. A job
 * only reads its inputs and writes its own files; it reports through the context, and the host
 * side stores what it reports. Dataset jobs are the exception: they write their dataset rows
 * through their own store connection, in single short transactions.
 */
import type { SampleJobSpec } from '../../ml/sample/jobs';
import type { TrainJobSpec } from '../../ml/train/spec';
import type { EstimateSpec } from '../../ml/train/estimate';
import type { DataJobInput } from '../data/data-job-run';
import type { TrainWorkerEvent } from '../training/worker-protocol';
import type { SampleWorkerEvent } from '../sampling/worker-events';
import type { UnconditionalSpec } from '../sampling/unconditional-job';
import type { JobContext, JobOutcome } from './context';

export type { JobContext, JobOutcome, JobProgress } from './context';

export type JobPayload =
  | { kind: 'train'; spec: TrainJobSpec; holdAtStep?: number; holdAtCheckpoint?: number }
  | { kind: 'import' | 'phantom' | 'prepare' | 'fetch'; input: DataJobInput }
  | { kind: 'generate' | 'translate' | 'evaluate'; spec: SampleJobSpec }
  | { kind: 'sample'; spec: UnconditionalSpec }
  | { kind: 'estimate'; spec: EstimateSpec };

export async function runJob(payload: JobPayload, ctx: JobContext): Promise<JobOutcome> {
  switch (payload.kind) {
    case 'train': {
      const { runTrainJob } = await import('../training/train-job');
      const hold = { atStep: payload.holdAtStep, atCheckpoint: payload.holdAtCheckpoint };
      return runTrainJob(payload.spec, hold, ctx, (e: TrainWorkerEvent) => ctx.event(e));
    }
    case 'import':
    case 'phantom':
    case 'prepare':
    case 'fetch': {
      const { runDataJob } = await import('../data/data-job-run');
      try {
        const datasetId = await runDataJob(payload.input, (phase, done, total) => ctx.progress({ phase, done, total }), () => ctx.cancelled());
        return { status: 'completed', result: datasetId };
      } catch (err) {
        // However the stop surfaced (our own error, an aborted download), a requested cancel is a cancel.
        if (ctx.cancelled()) return { status: 'cancelled', result: null, message: 'cancelled' };
        throw err;
      }
    }
    case 'generate':
    case 'translate':
    case 'evaluate': {
      const { runSampleJob } = await import('../../ml/sample/jobs');
      const post = (e: SampleWorkerEvent) => ctx.event(e);
      try {
        const result = await runSampleJob(payload.spec, {
          started: (backend) => post({ type: 'started', backend }),
          progress: (p) => {
            post({ type: 'progress', progress: p });
            ctx.progress({ phase: p.phase, done: p.done, total: p.total, message: p.message });
          },
          shouldStop: () => ctx.cancelled(),
        });
        return { status: 'completed', result };
      } catch (err) {
        if (err instanceof Error && err.name === 'SamplingCancelledError') return { status: 'cancelled', result: null, message: err.message };
        throw err;
      }
    }
    case 'sample': {
      const { runUnconditionalJob } = await import('../sampling/unconditional-job');
      return runUnconditionalJob(payload.spec, ctx);
    }
    case 'estimate': {
      const { measureTrainingStep, EstimateCancelledError } = await import('../../ml/train/estimate');
      try {
        const result = await measureTrainingStep(payload.spec, {
          shouldStop: () => ctx.cancelled(),
          progress: (phase, done, total) => ctx.progress({ phase, done, total }),
        });
        return { status: 'completed', result };
      } catch (err) {
        if (err instanceof EstimateCancelledError) return { status: 'cancelled', result: null, message: err.message };
        throw err;
      }
    }
    default:
      throw new Error(`no runner for job kind '${String((payload as { kind: unknown }).kind)}'`);
  }
}

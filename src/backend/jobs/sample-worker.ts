import { parentPort, workerData } from 'node:worker_threads';
import { runSampleJob, type SampleJobSpec } from '../../ml/sample/jobs';
import type { WorkerReply } from './sample-host';

/**
 * Sampling worker thread: runs one sampling job spec and reports by message. It only reads model
 * and data files and writes the job's own outputs; the host stores results in the database.
 */
const port = parentPort;
if (!port) throw new Error('the sampling worker must run inside a worker thread');
const { spec, cancelFlag } = workerData as { spec: SampleJobSpec; cancelFlag: SharedArrayBuffer };
const cancel = new Int32Array(cancelFlag);
const post = (m: WorkerReply) => port.postMessage(m);

async function main(): Promise<void> {
  try {
    const result = await runSampleJob(spec, {
      started: (backend) => post({ type: 'started', backend }),
      progress: (progress) => post({ type: 'progress', progress }),
      shouldStop: () => Atomics.load(cancel, 0) !== 0,
    });
    post({ type: 'done', result });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    post({ type: 'error', message: e.message, cancelled: e.name === 'SamplingCancelledError' });
  }
}

void main();

import { parentPort, workerData } from 'node:worker_threads';
import { runJob } from './run-job';
import { createJobContext } from './job-context';
import type { JobWorkerInput, JobWorkerMessage } from './protocol';

/**
 * The one job worker thread: runs one job of any kind (run-job.ts switches on the kind) and
 * reports by message; cancel and confirmations travel through shared memory (job-context.ts).
 */
const port = parentPort;
if (!port) throw new Error('the job worker must run inside a worker thread');
const input = workerData as JobWorkerInput;
const post = (m: JobWorkerMessage) => port.postMessage(m);

runJob(input.payload, createJobContext(new Int32Array(input.control), post)).then(
  (outcome) => post({ type: 'done', outcome }),
  (err: unknown) => post({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
);

import { parentPort, workerData } from 'node:worker_threads';
import { runJob } from './run-job';
import type { JobWorkerInput, JobWorkerMessage } from './protocol';

/**
 * The one job worker thread: runs one job of any kind (run-job.ts switches on the kind) and
 * reports by message. The cancel flag is shared memory, read synchronously between steps: a
 * step's awaits are microtasks, so a posted 'cancel' message could wait a long time to be seen.
 */
const port = parentPort;
if (!port) throw new Error('the job worker must run inside a worker thread');
const input = workerData as JobWorkerInput;
const control = new Int32Array(input.control);
const post = (m: JobWorkerMessage) => port.postMessage(m);

runJob(input.payload, {
  control,
  cancelled: () => Atomics.load(control, 0) !== 0,
  progress: (progress) => post({ type: 'progress', progress }),
  event: (event) => post({ type: 'event', event }),
}).then(
  (outcome) => post({ type: 'done', outcome }),
  (err: unknown) => post({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
);

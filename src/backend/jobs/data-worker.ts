import { parentPort, workerData } from 'node:worker_threads';
import { runDataJob, type DataJobInput } from '../data/data-job-run';
import type { DataWorkerReply } from './data-jobs';

/** Dataset worker thread: runs one import/phantom/prepare/fetch job and reports by message. */
const port = parentPort;
if (!port) throw new Error('the dataset worker must run inside a worker thread');
const post = (m: DataWorkerReply) => port.postMessage(m);

runDataJob(workerData as DataJobInput, (phase, done, total) => post({ type: 'progress', phase, done, total })).then(
  (datasetId) => post({ type: 'done', datasetId }),
  (err: unknown) => post({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
);

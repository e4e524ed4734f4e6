/// <reference types="electron-vite/node" />
import { Worker } from 'node:worker_threads';
import workerPath from '../../backend/jobs/data-worker?modulePath';
import type { DataJobInput } from '../../backend/data/data-job-run';

/** The Electron build's dataset worker (bundled by electron-vite; only the Electron main imports this). */
export function electronDataWorkerFactory(input: DataJobInput): Worker {
  return new Worker(workerPath, { workerData: input });
}

/// <reference types="electron-vite/node" />
import { Worker } from 'node:worker_threads';
import workerPath from '../../backend/jobs/train-worker?modulePath';
import type { WorkerInput } from '../../backend/training/worker-protocol';

/**
 * The Electron build's training worker: electron-vite bundles worker.ts as its own entry and
 * `?modulePath` gives its built path. Only the Electron main imports this file (tsx and vitest
 * use worker-shim.mjs instead).
 */
export function electronWorkerFactory(input: WorkerInput): Worker {
  return new Worker(workerPath, { workerData: input });
}

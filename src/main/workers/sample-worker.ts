/// <reference types="electron-vite/node" />
import { Worker } from 'node:worker_threads';
import type { SampleJobSpec } from '../../ml/sample/jobs';
import workerPath from '../../backend/jobs/sample-worker?modulePath';

/** The Electron build's sampling worker (bundled by electron-vite; only the Electron main imports this). */
export function electronSampleWorkerFactory(spec: SampleJobSpec, cancelFlag: SharedArrayBuffer): Worker {
  return new Worker(workerPath, { workerData: { spec, cancelFlag } });
}

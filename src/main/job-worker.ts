/// <reference types="electron-vite/node" />
import workerPath from '../backend/jobs/worker?modulePath';

/**
 * The Electron build's job worker: electron-vite bundles src/backend/jobs/worker.ts as its own
 * entry and `?modulePath` gives its built path, which main hands to the back end (the job host
 * creates the workers). tsx and vitest start the TypeScript worker through worker-shim.mjs.
 */
export const electronJobWorkerPath: string = workerPath;

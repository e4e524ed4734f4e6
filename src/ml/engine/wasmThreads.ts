import { createRequire } from 'node:module';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { Worker as NodeWorker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';

/**
 * XNNPACK's thread pool for the wasm backend under Node. tfjs ships the threaded SIMD binary but
 * reports "no multithread support" whenever it runs in Node, for three reasons this module works
 * around before the backend's first initialisation:
 *  - the pthread workers are created from a blob: URL, which Node's Worker cannot load: a
 *    Worker shim starts them from the same worker script (eval'd), loading the Emscripten glue
 *    from its file in the package instead of from a Blob;
 *  - those workers stay ref'd while their pthread runs, so a process would never exit: the shim
 *    unrefs them (they are idle compute helpers, never the reason to stay alive);
 *  - the binary sizes its pool as (logical cores / 2), capped at 8, from os.cpus() read once
 *    while the module starts: os.cpus() reports 2·threads for that moment.
 * The pool size is fixed for the life of the process once the wasm backend has started.
 */

/** Most threads tfjs's binary pre-creates workers for (more would need workers created later). */
export const MAX_WASM_THREADS = 8;

const WORKER_SCRIPT = 'wasm-out/tfjs-backend-wasm-threaded-simd.worker.js';
const GLUE_SCRIPT = 'wasm-out/tfjs-backend-wasm-threaded-simd.js';
// The worker script's branch that loads the glue from a Blob (impossible in a Node worker).
const BLOB_BRANCH =
  'if(typeof e.data.urlOrBlob=="string"){importScripts(e.data.urlOrBlob)}else{var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)}';

let started: number | null = null;
let fallbackReason: string | null = null;

/** The thread count the wasm backend runs with in this process; null before it starts. */
export function wasmThreadsInUse(): number | null {
  return started;
}

/** Why the wasm backend runs single-threaded although more threads were asked for; else null. */
export function wasmThreadsFallbackReason(): string | null {
  return fallbackReason;
}

/**
 * The default: the cores not already busy (cores minus the 1-minute load average, at least 1),
 * within the binary's limit; every core on an idle machine. XNNPACK's pool waits for all its
 * threads at the end of every kernel, so on an oversubscribed machine, where a thread is often
 * descheduled, threads made a desktop UNet step ~2.5x slower in wall-clock time than one thread
 * (measured at load 12-16 on 2 cores); threads pay off only where cores are free.
 */
export function defaultWasmThreads(cores = availableParallelism(), load = loadavg()[0] ?? 0): number {
  return Math.max(1, Math.min(MAX_WASM_THREADS, cores, Math.round(cores - load)));
}

/** Parses a thread-count setting (env or option): a positive integer, or 'auto'/0 for the default. */
export function parseWasmThreads(value: string | number | undefined, source: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'auto' || value === 0 || value === '0') return defaultWasmThreads();
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${source}: wasm thread count must be a positive integer or 'auto', got '${value}'`);
  return Math.min(n, MAX_WASM_THREADS);
}

/**
 * The thread count wasm starts with: the initEngine option, else BRAINSYNTH_WASM_THREADS, else the
 * caller's preferred count for its work (at most `free`, the 'auto' count), else `free`.
 */
export function chooseWasmThreads(
  s: { option?: number | 'auto'; env?: string; preferred?: number },
  free: number = defaultWasmThreads(),
): number {
  const set = parseWasmThreads(s.option, 'initEngine wasmThreads') ?? parseWasmThreads(s.env, 'BRAINSYNTH_WASM_THREADS');
  if (set !== undefined) return set;
  const preferred = parseWasmThreads(s.preferred, 'initEngine wasmThreadsDefault');
  return preferred === undefined ? free : Math.min(preferred, free);
}

function workerSource(wasmPackageDir: string): string {
  const req = createRequire(join(wasmPackageDir, 'package.json'));
  const { wasmWorkerContents } = req(join(wasmPackageDir, WORKER_SCRIPT)) as { wasmWorkerContents?: unknown };
  if (typeof wasmWorkerContents !== 'string' || !wasmWorkerContents.includes(BLOB_BRANCH)) {
    throw new Error(`${WORKER_SCRIPT} is not the worker script this engine knows (tfjs-backend-wasm changed)`);
  }
  // The script is kept as a template literal whose "\n" escapes became real newlines inside
  // string literals; escape them again, as tfjs does before making its Blob.
  const glue = JSON.stringify(join(wasmPackageDir, GLUE_SCRIPT));
  return wasmWorkerContents.replace(/\n/g, '\\n').replace(BLOB_BRANCH, `importScripts(${glue});`);
}

/**
 * Starts the wasm backend (`start` runs tf.setBackend('wasm') and waits for it) with `threads`
 * XNNPACK threads. 1 thread uses the plain SIMD binary, as tfjs does in Node by default. Returns
 * the thread count the backend reports. Only the first start of the process decides.
 */
export async function startWasmWithThreads(threads: number, start: () => Promise<void>): Promise<number> {
  if (started !== null) {
    await start();
    return started;
  }
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (threads <= 1) {
    await start();
    started = wasm.getThreadsCount();
    return started;
  }
  const req = createRequire(import.meta.url);
  const os = req('node:os') as typeof import('node:os');
  const packageDir = dirname(req.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const source = workerSource(packageDir);
  class PthreadWorker extends NodeWorker {
    constructor() {
      super(source, { eval: true });
      this.unref();
    }
    override ref(): void {
      // Keep the pool from holding the process open (see the module comment).
    }
  }
  const g = globalThis as { Worker?: unknown };
  const hadWorker = Object.prototype.hasOwnProperty.call(g, 'Worker');
  const previousWorker = g.Worker;
  const realCpus = os.cpus;
  // The glue assigns Node's Worker to the global while it starts; the setter keeps the shim.
  Object.defineProperty(globalThis, 'Worker', { get: () => PthreadWorker, set: () => undefined, configurable: true });
  os.cpus = () => {
    const one = realCpus()[0];
    return one ? Array.from({ length: 2 * threads }, () => one) : realCpus();
  };
  try {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    wasm.setThreadsCount(threads);
    await start();
  } catch (e) {
    // The single-threaded binary is what tfjs itself would have used: fall back to it, saying why.
    fallbackReason = `threaded wasm did not start (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); running single-threaded`;
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    wasm.setThreadsCount(1);
    await start();
  } finally {
    os.cpus = realCpus;
    if (hadWorker) Object.defineProperty(globalThis, 'Worker', { value: previousWorker, writable: true, configurable: true });
    else delete g.Worker;
  }
  started = wasm.getThreadsCount();
  return started;
}

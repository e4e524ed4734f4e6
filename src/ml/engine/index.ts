import * as tf from '@tensorflow/tfjs';
import {
  BACKEND_ORDER,
  type BackendName,
  type WebgpuAdapterInfo,
  errorMessage,
  initCpu,
  initTensorflow,
  initWasm,
  initWebgpu,
  lastWebgpuAdapter,
} from './backends';
import { registerKernelFixes } from './kernels';
import { chooseWasmThreads, wasmThreadsFallbackReason, wasmThreadsInUse } from './wasmThreads';

/**
 * The one place that picks and initialises the TensorFlow.js backend. Order unless overridden
 * (argument, then env BRAINSYNTH_BACKEND): tensorflow (tfjs-node-gpu / tfjs-node when they load),
 * webgpu (Dawn, real GPU adapters only unless forced), wasm, cpu. The project's kernel fixes are
 * registered for the chosen backend before it runs anything. Import `@tensorflow/tfjs` (not
 * tfjs-core) everywhere: only the full package registers gradients.
 */

export type { BackendName, WebgpuAdapterInfo } from './backends';
export { BACKEND_ORDER } from './backends';
export { assertNoLeak, disposeAll, liveTensors, withTidy, type LeakReport } from './memory';
export { kernelFixesFor, registerKernelFixes } from './kernels';
export { MAX_WASM_THREADS, chooseWasmThreads, defaultWasmThreads } from './wasmThreads';

export type BackendRequest = 'auto' | BackendName;

export interface EngineOptions {
  /** 'auto' (default) walks BACKEND_ORDER; a name uses exactly that backend or throws. */
  backend?: BackendRequest;
  /** Use a software WebGPU adapter (lavapipe, llvmpipe, SwiftShader) instead of skipping it. */
  forceWebgpu?: boolean;
  /** Extra Dawn options for the `webgpu` package, e.g. ['backend=opengles']. */
  dawnFlags?: string[];
  /**
   * XNNPACK threads for wasm: a count, or 'auto' (default; env BRAINSYNTH_WASM_THREADS): the cores
   * not already busy, every core on an idle machine. Decided by the first wasm start of the
   * process; later requests cannot change it.
   */
  wasmThreads?: number | 'auto';
  /**
   * The count a caller knows suits its work, used when neither `wasmThreads` nor
   * BRAINSYNTH_WASM_THREADS sets one; never more than the 'auto' count (the free cores).
   */
  wasmThreadsDefault?: number;
}

export interface EngineInfo {
  backend: BackendName;
  requested: BackendRequest;
  /** Why each backend other than the active one is not used. */
  reasons: Partial<Record<BackendName, string>>;
  /** Kernels the project registered for the active backend. */
  kernelFixes: string[];
  webgpuAdapter: WebgpuAdapterInfo | null;
  tfjsVersion: string;
  /** Threads the wasm backend computes with (null when wasm is not the active backend). */
  wasmThreads: number | null;
  /** Why wasm runs on fewer threads than requested, when it does. */
  wasmThreadsNote?: string;
}

let current: EngineInfo | null = null;

/** Environment variables where there are any (a browser renderer has no `process`). */
function env(name: string): string | undefined {
  return typeof process !== 'undefined' ? process.env?.[name] : undefined;
}
let queue: Promise<unknown> = Promise.resolve();

function parseRequest(value: string | undefined, source: string): BackendRequest | undefined {
  if (value === undefined || value === '') return undefined;
  const v = value.trim().toLowerCase();
  if (v === 'auto' || (BACKEND_ORDER as readonly string[]).includes(v)) return v as BackendRequest;
  throw new Error(`${source}: unknown backend '${value}' (expected auto, ${BACKEND_ORDER.join(', ')})`);
}

async function tryBackend(name: BackendName, opts: EngineOptions): Promise<void> {
  switch (name) {
    case 'tensorflow':
      await initTensorflow(registerKernelFixes);
      return;
    case 'webgpu':
      await initWebgpu(registerKernelFixes, Boolean(opts.forceWebgpu) || env('BRAINSYNTH_FORCE_WEBGPU') === '1', opts.dawnFlags ?? dawnFlagsFromEnv());
      return;
    case 'wasm':
      await initWasm(registerKernelFixes, wasmThreadRequest(opts));
      return;
    case 'cpu':
      await initCpu(registerKernelFixes);
      return;
  }
}

function wasmThreadRequest(opts: EngineOptions): number {
  return chooseWasmThreads({ option: opts.wasmThreads, env: env('BRAINSYNTH_WASM_THREADS'), preferred: opts.wasmThreadsDefault });
}

function dawnFlagsFromEnv(): string[] {
  const raw = env('BRAINSYNTH_DAWN_FLAGS');
  return raw ? raw.split(/\s+/).filter(Boolean) : [];
}

async function select(requested: BackendRequest, opts: EngineOptions): Promise<EngineInfo> {
  const reasons: Partial<Record<BackendName, string>> = {};
  const candidates = requested === 'auto' ? BACKEND_ORDER : [requested];
  let chosen: BackendName | null = null;
  for (const name of candidates) {
    try {
      // Each init registers the kernel fixes after loading its module, before the first op.
      await tryBackend(name, opts);
      chosen = name;
      break;
    } catch (e) {
      reasons[name] = errorMessage(e);
    }
  }
  if (chosen === null) {
    const detail = Object.entries(reasons).map(([k, v]) => `${k}: ${v}`).join('; ');
    throw new Error(`engine: no usable backend for request '${requested}' (${detail})`);
  }
  if (requested !== 'auto') {
    for (const name of BACKEND_ORDER) if (name !== chosen) reasons[name] = `not tried: backend '${requested}' was requested`;
  } else {
    for (const name of BACKEND_ORDER.slice(BACKEND_ORDER.indexOf(chosen) + 1)) reasons[name] ??= `lower priority than ${chosen}`;
  }
  const wasmThreads = chosen === 'wasm' ? wasmThreadsInUse() : null;
  const wanted = chosen === 'wasm' ? wasmThreadRequest(opts) : null;
  const fallback = wasmThreadsFallbackReason();
  let wasmThreadsNote: string | undefined;
  if (wasmThreads !== null && wanted !== null && wanted !== wasmThreads) {
    wasmThreadsNote = fallback ?? `wasm started earlier in this process with ${wasmThreads} thread(s); ${wanted} requested`;
  }
  return {
    backend: chosen,
    requested,
    reasons,
    kernelFixes: registerKernelFixes(chosen),
    webgpuAdapter: lastWebgpuAdapter(),
    tfjsVersion: tf.version_core,
    wasmThreads,
    ...(wasmThreadsNote ? { wasmThreadsNote } : {}),
  };
}

/**
 * Initialises the engine. Idempotent: a repeated or concurrent call returns the same info, and an
 * 'auto' request never switches an engine that is already initialised (so library code may call it
 * freely without undoing a CLI --backend choice). A different explicit backend switches to it.
 */
export function initEngine(opts: EngineOptions = {}): Promise<EngineInfo> {
  // Calls run one after another, so concurrent callers never initialise two backends at once.
  const run = queue.then(() => initEngineNow(opts));
  queue = run.catch(() => undefined);
  return run;
}

async function initEngineNow(opts: EngineOptions): Promise<EngineInfo> {
  const requested = parseRequest(opts.backend, 'initEngine') ?? parseRequest(env('BRAINSYNTH_BACKEND'), 'BRAINSYNTH_BACKEND') ?? 'auto';
  if (current && (requested === 'auto' || requested === current.backend) && tf.getBackend() === current.backend) return current;
  current = await select(requested, opts);
  return current;
}

/** The active backend and why the others were skipped; null before initEngine. */
export function engineInfo(): EngineInfo | null {
  return current;
}

/**
 * Reads a tensor's values as float32 on every backend (webgpu has no synchronous readback, so
 * never use dataSync/arraySync in project code). Does not dispose `t`.
 */
export async function readFloat32(t: tf.Tensor): Promise<Float32Array> {
  const values = await t.data();
  return values instanceof Float32Array ? values : Float32Array.from(values as ArrayLike<number>);
}

/** Reads a tensor's values as float32, then disposes it. */
export async function readFloat32AndDispose(t: tf.Tensor): Promise<Float32Array> {
  try {
    return await readFloat32(t);
  } finally {
    t.dispose();
  }
}

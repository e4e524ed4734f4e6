import { existsSync } from 'node:fs';
import { availableParallelism, platform } from 'node:os';
import type * as Ort from 'onnxruntime-node';

/**
 * Loading onnxruntime-node (an optional dependency) and choosing its execution provider, with
 * the reason for every rung skipped, like the tfjs backend ladder: a GPU provider is tried only
 * where the machine has one (CUDA on Linux with the NVIDIA driver and the provider libraries
 * installed, DirectML on Windows, CoreML on macOS); the CPU provider runs on every core.
 */

export type OrtModule = typeof Ort;

export interface OrtLoadResult {
  ort: OrtModule | null;
  /** Why onnxruntime-node is not used (null when it loaded). */
  reason: string | null;
}

let loading: Promise<OrtLoadResult> | null = null;

/** onnxruntime-node, or null with the reason; BRAINSYNTH_ONNX=0 turns it off. Loaded once. */
export function loadOnnxRuntime(): Promise<OrtLoadResult> {
  loading ??= (async (): Promise<OrtLoadResult> => {
    if (process.env.BRAINSYNTH_ONNX === '0') return { ort: null, reason: 'turned off by BRAINSYNTH_ONNX=0' };
    try {
      const mod = (await import('onnxruntime-node')) as OrtModule & { default?: OrtModule };
      const ort = mod.InferenceSession ? mod : (mod.default as OrtModule);
      if (!ort?.InferenceSession) return { ort: null, reason: 'onnxruntime-node loaded without an InferenceSession export' };
      return { ort, reason: null };
    } catch (err) {
      return { ort: null, reason: `onnxruntime-node did not load: ${(err as Error).message.split('\n')[0]}` };
    }
  })();
  return loading;
}

export interface ProviderChoice {
  /** Providers to try in order, best first; 'cpu' always last. */
  candidates: string[];
  /** GPU providers not tried, with why. */
  skipped: string[];
}

function bundledProviders(ort: OrtModule): Map<string, boolean> {
  const list = (ort as unknown as { listSupportedBackends?: () => Array<{ name: string; bundled: boolean }> }).listSupportedBackends?.() ?? [];
  return new Map(list.map((b) => [b.name, b.bundled]));
}

/** The provider ladder for this machine. `prefer` = 'cpu' skips GPU providers. */
export function chooseProviders(ort: OrtModule, prefer: 'auto' | 'cpu' = 'auto'): ProviderChoice {
  const skipped: string[] = [];
  const candidates: string[] = [];
  if (prefer === 'cpu') return { candidates: ['cpu'], skipped: ['GPU providers: not requested'] };
  const supported = bundledProviders(ort);
  const os = platform();
  if (os === 'linux') {
    if (!supported.has('cuda')) skipped.push('cuda: this onnxruntime-node build has no CUDA provider');
    else if (!existsSync('/proc/driver/nvidia/version')) skipped.push('cuda: no NVIDIA driver on this machine');
    else if (!supported.get('cuda') && !cudaProviderInstalled()) {
      skipped.push('cuda: provider libraries not installed (reinstall onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12)');
    } else candidates.push('cuda');
  } else if (os === 'win32') {
    if (supported.has('dml')) candidates.push('dml');
    else skipped.push('dml: this onnxruntime-node build has no DirectML provider');
  } else if (os === 'darwin') {
    if (supported.has('coreml')) candidates.push('coreml');
    else skipped.push('coreml: this onnxruntime-node build has no CoreML provider');
  }
  candidates.push('cpu');
  return { candidates, skipped };
}

function cudaProviderInstalled(): boolean {
  try {
    const dir = new URL('.', import.meta.resolve('onnxruntime-node')).pathname;
    return existsSync(`${dir}../bin/napi-v6/linux/${process.arch}/libonnxruntime_providers_cuda.so`);
  } catch {
    return false;
  }
}

export interface SessionOptions {
  /** CPU threads for one operator (default: every core). */
  threads?: number;
  prefer?: 'auto' | 'cpu';
}

export interface OpenedSession {
  session: Ort.InferenceSession;
  provider: string;
  threads: number;
  /** Providers tried and skipped, with reasons. */
  notes: string[];
}

/** Opens a model on the best provider that accepts it, falling back down the ladder. */
export async function openSession(ort: OrtModule, model: Uint8Array, opts: SessionOptions = {}): Promise<OpenedSession> {
  const threads = opts.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) throw new Error(`onnx: threads must be a positive integer, got ${threads}`);
  const { candidates, skipped } = chooseProviders(ort, opts.prefer);
  const notes = [...skipped];
  for (const provider of candidates) {
    try {
      const session = await ort.InferenceSession.create(model, {
        executionProviders: [provider],
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
      });
      return { session, provider, threads, notes };
    } catch (err) {
      if (provider === 'cpu') throw new Error(`onnx: the model did not load on the CPU provider: ${(err as Error).message}`);
      notes.push(`${provider}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error('onnx: no execution provider accepted the model');
}

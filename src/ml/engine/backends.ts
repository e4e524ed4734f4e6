import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { startWasmWithThreads } from './wasmThreads';

/**
 * Probes for each backend. A probe either initialises its backend and returns true, or throws an
 * Error whose message says why the backend is skipped (that text reaches engineInfo().reasons).
 */

export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

export interface WebgpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  software: boolean;
}

/** Software rasterisers Dawn may expose as an adapter: correct but slower than wasm. */
const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|softpipe|software|\bcpu\b/i;

/** Called after a backend's module has registered its kernels and before the backend runs. */
export type BeforeActivate = (backendName: string) => void;

async function setAndCheck(name: string, before: BeforeActivate): Promise<void> {
  before(name);
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) throw new Error(`tf.setBackend('${name}') failed`);
  await tf.ready();
}

function message(e: unknown): string {
  return e instanceof Error ? e.message.split('\n')[0] : String(e);
}

// Module names in variables keep bundlers from resolving optional packages at build time.
const TFJS_NODE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];

/**
 * Why a tfjs-node package cannot load, or null when its native binding is on disk. Checked before
 * the import: the JS part registers every 'tensorflow' kernel and only then fails on the missing
 * binding, so importing the second package after a failed first one prints hundreds of
 * "already registered" warnings.
 */
function missingNativeBinding(pkg: string): string | null {
  let dir: string;
  try {
    dir = dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`));
  } catch {
    return 'not installed';
  }
  const lib = join(dir, 'lib');
  const found = existsSync(lib) && readdirSync(lib).some((d) => d.startsWith('napi-v') && existsSync(join(lib, d, 'tfjs_binding.node')));
  return found ? null : 'installed without its native binding (its install script downloads libtensorflow)';
}

export async function initTensorflow(before: BeforeActivate): Promise<string> {
  const failures: string[] = [];
  for (const pkg of TFJS_NODE_PACKAGES) {
    const missing = missingNativeBinding(pkg);
    if (missing) {
      failures.push(`${pkg}: ${missing}`);
      continue;
    }
    try {
      await import(/* @vite-ignore */ pkg);
      await setAndCheck('tensorflow', before);
      return pkg;
    } catch (e) {
      failures.push(`${pkg}: ${message(e)}`);
    }
  }
  throw new Error(`not loadable (${failures.join('; ')})`);
}

let webgpuAdapter: WebgpuAdapterInfo | null = null;

export function lastWebgpuAdapter(): WebgpuAdapterInfo | null {
  return webgpuAdapter;
}

interface AdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
  isFallbackAdapter?: boolean;
}
interface GpuLike {
  requestAdapter(opts?: { powerPreference?: string }): Promise<AdapterLike | null>;
}

/**
 * Dawn through the npm `webgpu` package. It must register navigator.gpu (and the GPU* globals)
 * before @tensorflow/tfjs-backend-webgpu is imported, because that module registers its backend
 * only if navigator.gpu exists at import time.
 */
export async function initWebgpu(before: BeforeActivate, force: boolean, dawnFlags: string[] = []): Promise<WebgpuAdapterInfo> {
  const g = globalThis as unknown as { navigator?: { gpu?: GpuLike } };
  if (!g.navigator?.gpu) {
    // Without a Vulkan loader Dawn finds no adapter anyway, but only after printing a native
    // warning on stderr; say why once, quietly, instead (a GL-only setup can still force it).
    const loaderProblem = force ? null : missingVulkanLoader();
    if (loaderProblem) throw new Error(loaderProblem);
    let mod: { create: (flags: string[]) => GpuLike; globals: Record<string, unknown> };
    try {
      mod = (await import('webgpu')) as unknown as typeof mod;
    } catch (e) {
      throw new Error(`npm package 'webgpu' (Dawn) not loadable: ${message(e)}`);
    }
    Object.assign(globalThis, mod.globals);
    const gpu = mod.create(dawnFlags);
    if (g.navigator) {
      Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
    } else {
      Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    }
  }
  const gpu = g.navigator?.gpu as GpuLike;
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('Dawn found no WebGPU adapter (no Vulkan/Metal/D3D12 driver)');
  const i = adapter.info ?? {};
  const info: WebgpuAdapterInfo = {
    vendor: i.vendor ?? '',
    architecture: i.architecture ?? '',
    device: i.device ?? '',
    description: i.description ?? '',
    software: Boolean(adapter.isFallbackAdapter) || SOFTWARE_ADAPTER.test(`${i.vendor} ${i.architecture} ${i.device} ${i.description}`),
  };
  webgpuAdapter = info;
  const label = [info.vendor, info.device || info.description].filter(Boolean).join(' ') || 'unknown';
  if (info.software && !force) {
    throw new Error(`adapter '${label}' is a software (CPU) rasteriser, slower than wasm; use forceWebgpu to use it anyway`);
  }
  await import('@tensorflow/tfjs-backend-webgpu');
  try {
    await setAndCheck('webgpu', before);
  } catch (e) {
    throw new Error(`adapter '${label}' found but the tfjs webgpu backend failed: ${message(e)}`);
  }
  return info;
}

/** Starts wasm with `threads` XNNPACK threads (fixed once per process); returns the count in use. */
export async function initWasm(before: BeforeActivate, threads: number): Promise<number> {
  try {
    await import('@tensorflow/tfjs-backend-wasm');
  } catch (e) {
    throw new Error(`@tensorflow/tfjs-backend-wasm not loadable: ${message(e)}`);
  }
  return startWasmWithThreads(threads, () => setAndCheck('wasm', before));
}

export async function initCpu(before: BeforeActivate): Promise<void> {
  await setAndCheck('cpu', before);
  // The cpu backend prints a "install tfjs-node" banner on first use; the engine already tries
  // tfjs-node first and reports why it was skipped, so the banner is noise.
  const cpu = tf.backend() as unknown as { firstUse?: boolean };
  if (typeof cpu.firstUse === 'boolean') cpu.firstUse = false;
}

export { message as errorMessage };

/** Linux only: where the dynamic loader would find libvulkan.so.1, or why not. */
function missingVulkanLoader(): string | null {
  if (process.platform !== 'linux') return null;
  const dirs = [
    ...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean),
    '/usr/lib/x86_64-linux-gnu',
    '/usr/lib/aarch64-linux-gnu',
    '/lib/x86_64-linux-gnu',
    '/lib/aarch64-linux-gnu',
    '/usr/lib64',
    '/usr/lib',
    '/usr/local/lib',
  ];
  if (dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')))) return null;
  return 'no Vulkan loader (libvulkan.so.1) installed, so Dawn has no GPU adapter';
}

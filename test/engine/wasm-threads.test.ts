import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defaultWasmThreads, initEngine, MAX_WASM_THREADS } from '../../src/ml/engine';
import { chooseWasmThreads, parseWasmThreads } from '../../src/ml/engine/wasmThreads';
import { trainingWasmThreads } from '../../src/ml/train/threads';

/**
 * Threaded wasm under Node: the engine starts XNNPACK's thread pool (tfjs disables it in Node),
 * the process still exits on its own, and training results are reproducible for a given seed and
 * thread count (checked in child processes, since the pool size is fixed per process).
 */
const child = join(dirname(fileURLToPath(import.meta.url)), 'wasm-threads-child.ts');

interface ChildResult {
  threads: number;
  note: string | null;
  digest: string;
}

/** Rejects if the child fails, or if a pool that keeps it alive makes it outlast the timeout. */
async function runChild(threads: number): Promise<ChildResult> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', child], {
    env: { ...process.env, BRAINSYNTH_WASM_THREADS: String(threads) },
    encoding: 'utf8',
    timeout: 150_000,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as ChildResult;
}

describe('wasm thread pool in Node', () => {
  it('starts the requested pool in this process and reports it', async () => {
    const info = await initEngine({ backend: 'wasm', wasmThreads: 2 });
    expect(info.wasmThreads).toBe(2);
    expect(info.wasmThreadsNote).toBeUndefined();
    // The pool is fixed once started: a later, different request is reported, not obeyed.
    const again = await initEngine({ backend: 'cpu' }).then(() => initEngine({ backend: 'wasm', wasmThreads: 1 }));
    expect(again.wasmThreads).toBe(2);
    expect(again.wasmThreadsNote).toMatch(/started earlier .* 2 thread\(s\); 1 requested/);
  });

  it('gives identical training results for a given seed and thread count, and across counts', async () => {
    const one = await runChild(1);
    const twoA = await runChild(2);
    const twoB = await runChild(2);
    expect(one.threads).toBe(1);
    expect(twoA.threads).toBe(2);
    expect(twoA.note).toBeNull();
    expect(twoB.digest).toBe(twoA.digest);
    // XNNPACK splits work by output tiles, so the summation order does not depend on the count.
    expect(one.digest).toBe(twoA.digest);
  });

  it('parses thread settings: a count (capped at the binary pool), auto, or a clear refusal', () => {
    expect(parseWasmThreads(undefined, 'x')).toBeUndefined();
    expect(parseWasmThreads('3', 'x')).toBe(3);
    expect(parseWasmThreads(64, 'x')).toBe(MAX_WASM_THREADS);
    expect(parseWasmThreads('auto', 'x')).toBe(defaultWasmThreads());
    // Every core when idle, the free ones when busy, never fewer than one or more than the pool.
    expect(defaultWasmThreads(2, 0.1)).toBe(2);
    expect(defaultWasmThreads(16, 0)).toBe(MAX_WASM_THREADS);
    expect(defaultWasmThreads(8, 5.2)).toBe(3);
    expect(defaultWasmThreads(2, 14)).toBe(1);
    expect(() => parseWasmThreads('many', 'BRAINSYNTH_WASM_THREADS')).toThrow(/BRAINSYNTH_WASM_THREADS.*'many'/);
    expect(() => parseWasmThreads(-2, 'initEngine wasmThreads')).toThrow(/positive integer/);
  });

  it("chooses the count: the option, else the env, else the caller's preferred count within the free cores, else the free cores", () => {
    expect(chooseWasmThreads({ option: 3, env: '2', preferred: 1 }, 4)).toBe(3);
    expect(chooseWasmThreads({ env: '2', preferred: 1 }, 4)).toBe(2);
    expect(chooseWasmThreads({ env: '', preferred: 1 }, 4)).toBe(1);
    expect(chooseWasmThreads({ preferred: 6 }, 4)).toBe(4);
    expect(chooseWasmThreads({}, 4)).toBe(4);
    expect(() => chooseWasmThreads({ preferred: 0.5 }, 4)).toThrow(/wasmThreadsDefault/);
    // Training: the desktop diffusion stages' small kernels run on one thread; the desktop
    // autoencoder and every reference stage on every free core.
    expect(chooseWasmThreads({ preferred: trainingWasmThreads('desktop', 'ldm') }, 2)).toBe(1);
    expect(chooseWasmThreads({ preferred: trainingWasmThreads('desktop', 'controlnet') }, 2)).toBe(1);
    expect(chooseWasmThreads({ preferred: trainingWasmThreads('desktop', 'autoencoder') }, 2)).toBe(2);
    expect(chooseWasmThreads({ preferred: trainingWasmThreads('reference', 'ldm') }, 2)).toBe(2);
    expect(chooseWasmThreads({ env: '2', preferred: trainingWasmThreads('desktop', 'ldm') }, 2)).toBe(2);
  });
});

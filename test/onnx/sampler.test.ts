import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSampleJob, type SampleJobSpec } from '../../src/ml/sample/jobs';
import { useNativeInference } from '../../src/ml/sample/native';
import type { SamplingPipeline } from '../../src/ml/pipeline';
import { sampleUnconditional, translateSlices } from '../../src/ml/sample/sampler';
import { loadOnnxRuntime } from '../../src/ml/onnx/runtime';
import { relativeL2 } from '../../src/ml/util/relative-l2';
import { flairBatch, openTinyPipeline, TINY_SIZE, writeTinyPipeline } from '../sample/fixtures';

/** Sampling through the pipeline's onnxruntime runners: seeded, and equal to the tfjs sampler to float rounding. */
const [H, W] = TINY_SIZE;
const ortLoad = await loadOnnxRuntime();

describe.skipIf(!ortLoad.ort)('sampling on onnxruntime (pipeline.runners)', () => {
  let pipeline: SamplingPipeline;
  let close: (() => void) | undefined;

  beforeAll(async () => {
    ({ pipeline, close } = await openTinyPipeline('bs-onnx-sample-'));
  });
  afterAll(() => close?.());

  it('guided translation and unconditional samples equal the tfjs sampler, and the same seed repeats bitwise', async () => {
    const flair = flairBatch(2, H, W);
    const opts = { seeds: [3, 4], steps: 3, guidanceScale: 7 };
    const tfjsGuided = await translateSlices(pipeline, flair, opts);
    const tfjsUncond = await sampleUnconditional(pipeline, { seeds: [5], steps: 3 });

    const info = await useNativeInference(pipeline, { threads: 2, requestedBackend: 'auto' });
    expect(info.engine).toBe('onnx');
    expect(info.description).toMatch(/^onnxruntime (cpu, 2 threads|\w+)$/);
    expect(pipeline.runners).toBeTruthy();

    const before = tf.memory().numTensors;
    const a = await translateSlices(pipeline, flair, opts);
    const b = await translateSlices(pipeline, flair, opts);
    expect(tf.memory().numTensors).toBe(before);
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(relativeL2(a, tfjsGuided)).toBeLessThan(1e-4);
    expect(relativeL2(a, tfjsGuided)).toBeGreaterThan(0); // it really ran elsewhere

    // Guidance 1 (conditional branch only) still goes through the fused graph.
    const single = await translateSlices(pipeline, flair, { ...opts, guidanceScale: 1 });
    pipeline.runners = null;
    const singleTfjs = await translateSlices(pipeline, flair, { ...opts, guidanceScale: 1 });
    expect(relativeL2(single, singleTfjs)).toBeLessThan(1e-4);

    await useNativeInference(pipeline, { threads: 1, requestedBackend: 'auto' });
    const u = await sampleUnconditional(pipeline, { seeds: [5], steps: 3 });
    expect(relativeL2(u, tfjsUncond)).toBeLessThan(1e-4);
  });

  it('keeps tfjs, with the reason, when a tfjs backend was asked for by name', async () => {
    await pipeline.runners?.dispose();
    pipeline.runners = null;
    const info = await useNativeInference(pipeline, { requestedBackend: 'wasm' });
    expect(info.engine).toBe('tfjs');
    expect(info.notes.join()).toMatch(/backend 'wasm' was requested/);
    expect(pipeline.runners).toBeNull();
  });
});

describe.skipIf(!ortLoad.ort)('sample jobs on onnxruntime', () => {
  it('a slice job samples on onnxruntime by default and says so; a named tfjs backend keeps tfjs', async () => {
    const root = mkdtempSync(join(tmpdir(), 'bs-onnx-job-'));
    try {
      const dirs = { autoencoder: join(root, 'ae'), ldm: join(root, 'ldm'), controlnet: join(root, 'cn') };
      writeTinyPipeline(dirs);
      const flair = new Float32Array(160 * 224).fill(0.3);
      const spec = (backend: string): SampleJobSpec => ({
        kind: 'slice',
        sources: dirs,
        normalisation: { method: 'minmax', slices: 'brain-band' },
        settings: { steps: 2 },
        backend,
        source: { flair },
        seed: 1,
        samples: 1,
      });
      const lines: string[] = [];
      const onnx = await runSampleJob(spec('auto'), { log: (l) => lines.push(l) });
      expect(onnx.backend).toBe('onnx');
      expect(onnx.inference).toMatch(/^sampling on onnxruntime cpu, \d+ threads/);
      expect(lines).toEqual([onnx.inference]);
      const tfjs = await runSampleJob(spec('wasm'));
      expect(tfjs.backend).toBe('wasm');
      expect(tfjs.inference).toMatch(/sampling on tfjs wasm \(onnxruntime not tried: backend 'wasm' was requested\)/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 300_000);
});

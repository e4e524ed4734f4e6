import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { engineInfo, initEngine, readFloat32, readFloat32AndDispose } from '../../src/ml/engine';

/**
 * Backend selection: order, reasons for skipped backends, explicit requests, the env override,
 * idempotence. Here tfjs-node is not installed and Dawn finds no adapter, so auto lands on wasm.
 */
describe('initEngine backend selection', () => {
  const savedEnv = process.env.BRAINSYNTH_BACKEND;
  afterEach(() => {
    if (savedEnv === undefined) delete process.env.BRAINSYNTH_BACKEND;
    else process.env.BRAINSYNTH_BACKEND = savedEnv;
  });

  it('auto walks tensorflow -> webgpu -> wasm -> cpu and says why each was skipped', async () => {
    delete process.env.BRAINSYNTH_BACKEND;
    const info = await initEngine({ backend: 'auto' });
    expect(['tensorflow', 'webgpu', 'wasm']).toContain(info.backend);
    expect(tf.getBackend()).toBe(info.backend);
    expect(info.requested).toBe('auto');
    const order = ['tensorflow', 'webgpu', 'wasm', 'cpu'] as const;
    for (const name of order.slice(0, order.indexOf(info.backend))) {
      expect(info.reasons[name], `reason for skipping ${name}`).toMatch(/\w{4,}/);
    }
    expect(info.reasons.cpu).toMatch(/lower priority/);
    if (info.backend === 'wasm') {
      expect(info.reasons.tensorflow).toMatch(/tfjs-node/);
      expect(info.kernelFixes).toEqual(expect.arrayContaining(['Conv2DBackpropFilter', 'UnsortedSegmentSum', 'BatchMatMul']));
    }
    expect(engineInfo()).toEqual(info);
  });

  it('an explicit backend is used exactly, and an auto call afterwards keeps it', async () => {
    const cpu = await initEngine({ backend: 'cpu' });
    expect(cpu.backend).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(cpu.reasons.wasm).toMatch(/requested/);
    expect(cpu.kernelFixes).toEqual(expect.arrayContaining(['ResizeNearestNeighborGrad', 'Conv2DBackpropFilter']));
    const again = await initEngine();
    expect(again).toBe(cpu);
    expect(tf.getBackend()).toBe('cpu');
  });

  it('is idempotent and safe under concurrent calls', async () => {
    const [a, b, c] = await Promise.all([initEngine({ backend: 'wasm' }), initEngine({ backend: 'wasm' }), initEngine({ backend: 'wasm' })]);
    expect(a.backend).toBe('wasm');
    expect(b).toBe(a);
    expect(c).toBe(a);
    expect(await initEngine({ backend: 'wasm' })).toBe(a);
    // Mixed concurrent requests are served in call order; the last one wins.
    const [x, y, z] = await Promise.all([initEngine({ backend: 'cpu' }), initEngine({ backend: 'wasm' }), initEngine({ backend: 'cpu' })]);
    expect([x.backend, y.backend, z.backend]).toEqual(['cpu', 'wasm', 'cpu']);
    expect(tf.getBackend()).toBe('cpu');
  });

  it('BRAINSYNTH_BACKEND selects the backend when no argument is given', async () => {
    await initEngine({ backend: 'wasm' });
    process.env.BRAINSYNTH_BACKEND = 'cpu';
    const info = await initEngine();
    expect(info.backend).toBe('cpu');
    expect(info.requested).toBe('cpu');
  });

  it('rejects unknown backend names clearly, from the argument and from the env', async () => {
    await expect(initEngine({ backend: 'cuda' as never })).rejects.toThrow(/initEngine: unknown backend 'cuda'/);
    process.env.BRAINSYNTH_BACKEND = 'tpu';
    await expect(initEngine()).rejects.toThrow(/BRAINSYNTH_BACKEND: unknown backend 'tpu'/);
  });

  it('an explicit backend that cannot start fails with the reason instead of falling back', async () => {
    await expect(initEngine({ backend: 'tensorflow' })).rejects.toThrow(/tensorflow: .*tfjs-node/);
  });

  it('readFloat32 reads float and int tensors without dataSync', async () => {
    await initEngine({ backend: 'wasm' });
    const f = tf.tensor1d([1.5, -2]);
    expect(Array.from(await readFloat32(f))).toEqual([1.5, -2]);
    expect(f.isDisposed).toBe(false);
    const i = tf.tensor1d([3, 4], 'int32');
    const v = await readFloat32AndDispose(i);
    expect(v).toBeInstanceOf(Float32Array);
    expect(Array.from(v)).toEqual([3, 4]);
    expect(i.isDisposed).toBe(true);
    f.dispose();
  });
});

import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../src/ml/engine';
import { describeLayersModel, LayersFeatureNetwork, perceptualDistance } from '../../src/ml/losses/perceptual';
import { createRuntime } from '../../src/ml/train/run';
import { runSession, type MetricOut } from '../../src/ml/train/session';
import { resolvePerceptual } from '../../src/ml/train/validate';
import { sharedPath } from '../helpers/shared';
import { syntheticData, tinyConfig } from './fixtures';

const MODEL = sharedPath('weights/mobilenet_v1_0.25_224/model.json');
const haveModel = existsSync(MODEL);

// cpu: tfjs-backend-wasm 4.22 has no DepthwiseConv2dNativeBackpropInput (MobileNet's gradient).
beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
});

describe('perceptual loss', () => {
  it('weight 0 is the documented default without a feature network, and the config says so', async () => {
    const cfg = await resolvePerceptual(tinyConfig('autoencoder'));
    expect(cfg.autoencoder!.perceptualWeight).toBe(0);
    expect(cfg.autoencoder!.perceptual).toEqual({ name: null, reason: expect.stringMatching(/no feature network given/) });
  });

  it('a missing or malformed network is refused naming the file', async () => {
    await expect(LayersFeatureNetwork.load('/nonexistent/model.json')).rejects.toThrow(/\/nonexistent\/model\.json: cannot read feature network/);
    const cfg = tinyConfig('autoencoder');
    cfg.autoencoder!.perceptualNetwork = '/nonexistent/model.json';
    cfg.autoencoder!.perceptualWeight = 0.002;
    await expect(resolvePerceptual(cfg)).rejects.toThrow(/perceptualNetwork: \/nonexistent\/model\.json does not exist/);
  });

  describe.skipIf(!haveModel)('on MobileNet v1 0.25 from ../shared (tests only)', () => {
    let net: LayersFeatureNetwork;
    beforeAll(async () => {
      net = await LayersFeatureNetwork.load(MODEL);
    });
    afterAll(() => net?.dispose());

    it('taps the last layer of each resolution and records name + sha256', async () => {
      expect(net.info.taps).toEqual(['conv_pw_1_relu', 'conv_pw_3_relu', 'conv_pw_5_relu', 'conv_pw_11_relu', 'conv_pw_13_relu']);
      expect(net.info.name).toBe('mobilenet_v1_0.25_224');
      expect(net.info.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect((await describeLayersModel(MODEL)).sha256).toBe(net.info.sha256);
      const cfg = tinyConfig('autoencoder');
      cfg.autoencoder!.perceptualNetwork = MODEL;
      cfg.autoencoder!.perceptualWeight = 0.002;
      expect((await resolvePerceptual(cfg)).autoencoder!.perceptual).toMatchObject({ name: 'mobilenet_v1_0.25_224', sha256: net.info.sha256 });
    });

    it('is zero for identical images, positive otherwise, and differentiable in the input', () => {
      const a = tf.randomUniform([2, 40, 56, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
      const b = tf.randomUniform([2, 40, 56, 1], 0, 1, 'float32', 2) as tf.Tensor4D;
      const same = perceptualDistance(net, a, a);
      const diff = perceptualDistance(net, a, b);
      expect(same.dataSync()[0]).toBeCloseTo(0, 6);
      expect(diff.dataSync()[0]).toBeGreaterThan(0.01);
      const g = tf.grad((x: tf.Tensor) => perceptualDistance(net, x as tf.Tensor4D, b))(a);
      expect(tf.sum(tf.abs(g)).dataSync()[0]).toBeGreaterThan(0);
      tf.dispose([a, b, same, diff, g]);
    });

    it('the autoencoder logs p_loss when a network is given', async () => {
      const root = mkdtempSync(join(tmpdir(), 'bs-perc-'));
      const config = tinyConfig('autoencoder', { epochs: 1, maxStepsPerEpoch: 1, valEvery: 0 });
      config.autoencoder!.perceptualNetwork = MODEL;
      config.autoencoder!.perceptualWeight = 0.002;
      const data = syntheticData(20, 28, 4, 2);
      const runtime = await createRuntime({ config, parents: {} }, data);
      const points: MetricOut[] = [];
      try {
        await runSession(runtime, { runDir: root, loop: config.loop, data, config: {}, resume: false }, { metrics: (p) => points.push(...p) });
      } finally {
        runtime.dispose();
        rmSync(root, { recursive: true, force: true });
      }
      const p = points.filter((m) => m.name === 'p_loss' && m.split === 'train');
      expect(p).toHaveLength(1);
      expect(p.every((m) => m.value > 0 && Number.isFinite(m.value))).toBe(true);
    });
  });
});

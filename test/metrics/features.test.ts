import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LayersFeatureNetwork } from '../../src/ml/losses/perceptual';
import { computeFrechetDistance, featureExtractorFromNetwork, frechetDistance, type ImageBatch } from '../../src/ml/metrics';
import { existsSync } from 'node:fs';
import { sharedPath } from '../helpers/shared';
import { GOLDEN_H, GOLDEN_W, goldenX, goldenX2, goldenY, goldenY2 } from './goldenImages';
import { initEngine } from '../../src/ml/engine';

const MODEL = sharedPath('weights/mobilenet_v1_0.25_224/model.json');
const present = existsSync(MODEL);
const reason = `feature network not found (${MODEL}); set BRAINSYNTH_SHARED to run the Frechet feature-network check`;

function batchOf(images: Float32Array[]): ImageBatch {
  const data = new Float32Array(images.length * GOLDEN_H * GOLDEN_W);
  images.forEach((im, i) => data.set(im, i * GOLDEN_H * GOLDEN_W));
  return { data, shape: [images.length, GOLDEN_H, GOLDEN_W] };
}

describe.skipIf(!present)(present ? 'Frechet distance on a TF.js layers feature network (MobileNet v1 0.25)' : reason, () => {
  let net: LayersFeatureNetwork;
  beforeAll(async () => {
    await initEngine({ backend: 'cpu' });
    net = await LayersFeatureNetwork.load(MODEL, { taps: ['conv_pw_13_relu'], name: 'mobilenet_v1_0.25_224' });
  });
  afterAll(() => net?.dispose());

  it('extracts one pooled 256-d vector per 160x224 image and names the metric after the network and layer', async () => {
    const extractor = featureExtractorFromNetwork(net, { batchSize: 2 });
    expect(extractor.name).toBe('mobilenet_v1_0.25_224:conv_pw_13_relu');
    const setA = batchOf([goldenX(), goldenX2(), goldenY()]);
    const setB = batchOf([goldenY2(), goldenY(), goldenX()]);
    const features = await extractor.extract(setA);
    expect(features).toHaveLength(3);
    expect(features[0].length).toBe(256);
    // Batching does not change the features.
    const single = await featureExtractorFromNetwork(net, { batchSize: 1 }).extract(setA);
    single.forEach((f, i) => f.forEach((v, k) => expect(Math.abs(v - features[i][k])).toBeLessThan(1e-4 * (1 + Math.abs(v)))));
    const r = await computeFrechetDistance(extractor, setA, setB);
    expect(r.name).toBe('frechet_distance[mobilenet_v1_0.25_224:conv_pw_13_relu]');
    expect(r.featureDim).toBe(256);
    expect(r.value).toBeGreaterThan(0);
    expect(Math.abs(frechetDistance(features, features))).toBeLessThan(1e-6 * r.value + 1e-9);
  });
});

describe('imageBatchFromNhwc', () => {
  it('keeps one-channel images as [B,H,W] and moves channels first otherwise', async () => {
    const { imageBatchFromNhwc } = await import('../../src/ml/metrics');
    await initEngine({ backend: 'cpu' });
    const grey = tf.tensor4d([1, 2, 3, 4, 5, 6], [1, 2, 3, 1]);
    const g = await imageBatchFromNhwc(grey);
    expect(g.shape).toEqual([1, 2, 3]);
    expect(Array.from(g.data)).toEqual([1, 2, 3, 4, 5, 6]);
    const rgb = tf.tensor4d([1, 10, 2, 20, 3, 30, 4, 40], [1, 2, 2, 2]);
    const c = await imageBatchFromNhwc(rgb);
    expect(c.shape).toEqual([1, 2, 2, 2]);
    expect(Array.from(c.data)).toEqual([1, 2, 3, 4, 10, 20, 30, 40]);
    tf.dispose([grey, rgb]);
  });
});

import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { AutoencoderKL, presetConfig } from '../../src/ml/networks';
import { computeLatentScale } from '../../src/ml/train/diffusion-common';
import type { SliceSet } from '../../src/ml/train/data';
import { Rng } from '../../src/ml/util/rng';
import { useBackend } from '../networks/fixtures';

beforeAll(() => useBackend('wasm'));

/** A split stored bottom-up: its first slices are empty (below the brain), the rest carry signal. */
function split(count: number, blank: number): SliceSet {
  const [h, w] = [16, 24];
  const rng = Rng.fromSeed(9);
  const t1w = new Float32Array(count * h * w);
  for (let i = blank * h * w; i < t1w.length; i++) t1w[i] = rng.range(0, 1);
  return { count, height: h, width: w, t1w, flair: t1w.slice() };
}

describe("the 'auto' latent scale", () => {
  const ae = new AutoencoderKL({ ...presetConfig('autoencoderkl', 'desktop'), num_channels: [8, 16], attention_levels: [false, false], norm_num_groups: 4 }).initialize(1);
  const rngs = (s: number) => Rng.fromSeed(s);

  it('measures slices spread through the split, not its first (empty) batch', async () => {
    const set = split(40, 4);
    const before = tf.memory().numTensors;
    const atBatch2 = await computeLatentScale(ae, set, 2, 1, rngs);
    expect(tf.memory().numTensors).toBe(before);
    const atBatch16 = await computeLatentScale(ae, set, 16, 1, rngs);
    // What the first batch alone gives: latents of blank slices.
    const firstOnly = await computeLatentScale(ae, split(2, 2), 2, 1, rngs);
    // The scale does not depend on how the slices are batched (only the posterior noise differs)...
    expect(Math.abs(atBatch2 / atBatch16 - 1)).toBeLessThan(0.05);
    // ...and it is the scale of the signal-bearing slices, not of the blank first batch.
    const signalOnly = await computeLatentScale(ae, split(40, 0), 2, 1, rngs);
    expect(Math.abs(atBatch2 / signalOnly - 1)).toBeLessThan(Math.abs(firstOnly / signalOnly - 1));
  });
});

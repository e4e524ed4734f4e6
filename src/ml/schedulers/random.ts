/**
 * Noise for the stochastic steps comes from the project's seeded RNG (src/ml/util/rng.ts), drawn in
 * JS and only then uploaded, so the same seed gives the same noise on every backend.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng';

/** What a scheduler needs from a generator (the project's Rng satisfies it). */
export interface NoiseGenerator {
  fillNormal(out: Float32Array): Float32Array;
}

export function createGenerator(seed: number): Rng {
  return Rng.fromSeed(seed);
}

/** A standard normal float32 tensor of `shape`, drawn from `generator`. */
export function randnTensor(generator: NoiseGenerator, shape: readonly number[]): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(generator.fillNormal(new Float32Array(size)), [...shape], 'float32');
}

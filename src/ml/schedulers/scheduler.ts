/**
 * The one interface every diffusion scheduler implements, so a sampling loop can step DDPM and
 * DDIM alike without knowing which it holds.
 */
import type * as tf from '@tensorflow/tfjs';
import type { SchedulerConfig } from './config';
import type { Timesteps } from './ops';
import type { NoiseGenerator } from './random';

// A type alias (not an interface) so a StepResult can be returned from tf.tidy.
export type StepResult = {
  prevSample: tf.Tensor;
  predOriginalSample: tf.Tensor;
};

export interface StepOptions {
  /**
   * Source of the noise a stochastic step adds (DDPM at t > 0, DDIM with eta > 0); required only
   * when noise is actually added, and not drawn from otherwise.
   */
  generator?: NoiseGenerator;
  /** DDIM's stochasticity (0 = deterministic, the reference). DDPM's variance is fixed, so it ignores eta. */
  eta?: number;
}

export interface Scheduler {
  readonly config: SchedulerConfig;
  /** Descending timesteps of the current inference grid. */
  readonly timesteps: Int32Array;
  readonly numInferenceSteps: number;
  setTimesteps(numInferenceSteps: number): Int32Array;
  addNoise(original: tf.Tensor, noise: tf.Tensor, t: Timesteps): tf.Tensor;
  getVelocity(sample: tf.Tensor, noise: tf.Tensor, t: Timesteps): tf.Tensor;
  /** One reverse step x_t -> x_prev. `t` is one timestep or one per sample. */
  step(modelOutput: tf.Tensor, t: Timesteps, sample: tf.Tensor, options?: StepOptions): StepResult;
}

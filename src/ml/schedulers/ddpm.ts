/** DDPM (MONAI GenerativeModels 0.2.2 DDPMScheduler), float32-faithful. */
import * as tf from '@tensorflow/tfjs';
import { MONAI_DDPM_DEFAULTS, type DDPMConfig } from './config';
import {
  addNoise,
  checkTimestep,
  coefficientTensor,
  getVelocity,
  predictedOriginalAndEpsilon,
  timestepList,
  type Timesteps,
} from './ops';
import { randnTensor } from './random';
import { makeNoiseSchedule, type NoiseSchedule } from './schedule';
import { inferenceTimesteps } from './timesteps';

const f32 = Math.fround;

import type { Scheduler, StepOptions, StepResult } from './scheduler';

export class DDPMScheduler implements Scheduler {
  readonly config: DDPMConfig;
  readonly schedule: NoiseSchedule;
  numInferenceSteps: number;
  timesteps: Int32Array;

  constructor(config: Partial<DDPMConfig> = {}) {
    this.config = { ...MONAI_DDPM_DEFAULTS, ...config };
    this.schedule = makeNoiseSchedule(this.config);
    this.numInferenceSteps = this.config.numTrainTimesteps;
    this.timesteps = inferenceTimesteps(this.config.numTrainTimesteps, this.numInferenceSteps);
  }

  setTimesteps(numInferenceSteps: number): Int32Array {
    this.timesteps = inferenceTimesteps(this.config.numTrainTimesteps, numInferenceSteps, {
      spacing: this.config.timestepSpacing,
    });
    this.numInferenceSteps = numInferenceSteps;
    return this.timesteps;
  }

  addNoise(original: tf.Tensor, noise: tf.Tensor, t: Timesteps): tf.Tensor {
    return addNoise(this.schedule, original, noise, t);
  }

  getVelocity(sample: tf.Tensor, noise: tf.Tensor, t: Timesteps): tf.Tensor {
    return getVelocity(this.schedule, sample, noise, t);
  }

  /** The timestep this step moves to; negative means "before the first" (abar = 1). */
  previousTimestep(t: number): number {
    // 0.2.2 always uses t-1, which is only right when all T steps are run (the reference's only
    // use); stepping by T//N is the same there and stays correct for shorter grids.
    return t - Math.floor(this.config.numTrainTimesteps / this.numInferenceSteps);
  }

  /** Variance of p(x_{t-1} | x_t) at t (float32, clamped like MONAI's fixed_small). */
  variance(t: number): number {
    const { alphasCumprod } = this.schedule;
    const prev = this.previousTimestep(t);
    const alphaProdT = alphasCumprod[t];
    const alphaProdPrev = prev >= 0 ? alphasCumprod[prev] : 1;
    const beta = this.currentBeta(t, alphaProdT, alphaProdPrev);
    if (this.config.varianceType === 'fixed_large') return beta;
    const v = f32(f32(f32(1 - alphaProdPrev) / f32(1 - alphaProdT)) * beta);
    return Math.max(v, f32(1e-20));
  }

  private currentBeta(t: number, alphaProdT: number, alphaProdPrev: number): number {
    // With the full grid this is betas[t] exactly, as in the reference.
    return this.previousTimestep(t) === t - 1 ? this.schedule.betas[t] : f32(1 - f32(alphaProdT / alphaProdPrev));
  }

  /**
   * One reverse step x_t -> x_{t-1}. `t` is one timestep or one per sample. Noise (for t > 0)
   * comes from `options.generator`, which is required whenever noise is added.
   */
  step(modelOutput: tf.Tensor, t: Timesteps, sample: tf.Tensor, options: StepOptions = {}): StepResult {
    const { generator } = options;
    const list = timestepList(t);
    for (const v of list) checkTimestep(v, this.config.numTrainTimesteps);
    const { alphasCumprod } = this.schedule;
    const batch = sample.shape[0];
    const rank = sample.rank;
    const alphaProdT = list.map((v) => alphasCumprod[v]);
    const x0Coef: number[] = [];
    const xtCoef: number[] = [];
    const noiseStd: number[] = [];
    list.forEach((v, i) => {
      const prev = this.previousTimestep(v);
      const a = alphaProdT[i];
      const aPrev = prev >= 0 ? alphasCumprod[prev] : 1;
      const betaProd = f32(1 - a);
      const betaProdPrev = f32(1 - aPrev);
      const beta = this.currentBeta(v, a, aPrev);
      const alpha = f32(1 - beta);
      x0Coef.push(f32(f32(f32(Math.sqrt(aPrev)) * beta) / betaProd));
      xtCoef.push(f32(f32(f32(Math.sqrt(alpha)) * betaProdPrev) / betaProd));
      noiseStd.push(v > 0 ? f32(Math.sqrt(this.variance(v))) : 0);
    });
    const needsNoise = noiseStd.some((s) => s !== 0);
    if (needsNoise && !generator) {
      throw new Error('DDPM step at t > 0 adds noise: pass a seeded generator (createGenerator(seed))');
    }
    const noise = needsNoise && generator ? randnTensor(generator, sample.shape) : null;
    try {
      return tf.tidy(() => {
        let { x0 } = predictedOriginalAndEpsilon(this.config.predictionType, modelOutput, sample, alphaProdT);
        if (this.config.clipSample) x0 = tf.clipByValue(x0, this.config.clipSampleMin, this.config.clipSampleMax);
        let prevSample = tf.add(
          tf.mul(coefficientTensor(x0Coef, batch, rank), x0),
          tf.mul(coefficientTensor(xtCoef, batch, rank), sample),
        );
        if (noise) prevSample = tf.add(prevSample, tf.mul(coefficientTensor(noiseStd, batch, rank), noise));
        return { prevSample, predOriginalSample: x0 === modelOutput ? tf.clone(x0) : x0 };
      });
    } finally {
      noise?.dispose();
    }
  }
}

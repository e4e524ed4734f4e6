/** DDIM (MONAI GenerativeModels 0.2.2 DDIMScheduler), float32-faithful. */
import * as tf from '@tensorflow/tfjs';
import { MONAI_DDIM_DEFAULTS, type DDIMConfig } from './config';
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
import type { Scheduler, StepOptions, StepResult } from './scheduler';
import { makeNoiseSchedule, type NoiseSchedule } from './schedule';
import { inferenceTimesteps } from './timesteps';

const f32 = Math.fround;

export class DDIMScheduler implements Scheduler {
  readonly config: DDIMConfig;
  readonly schedule: NoiseSchedule;
  /** abar used past the final step: 1 with setAlphaToOne, else abar_0. */
  readonly finalAlphaCumprod: number;
  numInferenceSteps: number;
  timesteps: Int32Array;

  constructor(config: Partial<DDIMConfig> = {}) {
    this.config = { ...MONAI_DDIM_DEFAULTS, ...config };
    this.schedule = makeNoiseSchedule(this.config);
    this.finalAlphaCumprod = this.config.setAlphaToOne ? 1 : this.schedule.alphasCumprod[0];
    // As in MONAI, the constructor runs set_timesteps(T).
    this.numInferenceSteps = this.config.numTrainTimesteps;
    this.timesteps = this.setTimesteps(this.config.numTrainTimesteps);
  }

  setTimesteps(numInferenceSteps: number): Int32Array {
    this.timesteps = inferenceTimesteps(this.config.numTrainTimesteps, numInferenceSteps, {
      spacing: this.config.timestepSpacing,
      stepsOffset: this.config.timestepSpacing === 'leading' ? this.config.stepsOffset : 0,
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

  /** MONAI (0.2.2 and core) steps back by T//N whatever the spacing. */
  previousTimestep(t: number): number {
    return t - Math.floor(this.config.numTrainTimesteps / this.numInferenceSteps);
  }

  private alphaProdPrev(t: number): number {
    const prev = this.previousTimestep(t);
    return prev >= 0 ? this.schedule.alphasCumprod[prev] : this.finalAlphaCumprod;
  }

  /** sigma_t^2 / eta^2 of the DDIM paper, in float32 as MONAI computes it. */
  variance(t: number): number {
    const a = this.schedule.alphasCumprod[t];
    const aPrev = this.alphaProdPrev(t);
    return f32(f32(f32(1 - aPrev) / f32(1 - a)) * f32(1 - f32(a / aPrev)));
  }

  /**
   * One DDIM update x_t -> x_prev; with eta 0 and the final step it returns x0_hat exactly.
   * eta 0 is deterministic DDIM (the reference), 1 DDPM-like; eta > 0 needs options.generator.
   */
  step(modelOutput: tf.Tensor, t: Timesteps, sample: tf.Tensor, options: StepOptions = {}): StepResult {
    const { eta = 0, generator } = options;
    if (!(eta >= 0)) throw new Error(`DDIM eta must be >= 0, got ${eta}`);
    const list = timestepList(t);
    for (const v of list) checkTimestep(v, this.config.numTrainTimesteps);
    const batch = sample.shape[0];
    const rank = sample.rank;
    const alphaProdT = list.map((v) => this.schedule.alphasCumprod[v]);
    const x0Coef: number[] = [];
    const epsCoef: number[] = [];
    const noiseStd: number[] = [];
    for (const v of list) {
      const aPrev = this.alphaProdPrev(v);
      const std = f32(eta * f32(Math.sqrt(this.variance(v))));
      x0Coef.push(f32(Math.sqrt(aPrev)));
      epsCoef.push(f32(Math.sqrt(f32(f32(1 - aPrev) - f32(std * std)))));
      noiseStd.push(std);
    }
    const needsNoise = eta > 0 && noiseStd.some((s) => s !== 0);
    if (needsNoise && !generator) throw new Error('DDIM step with eta > 0 adds noise: pass a seeded generator');
    const noise = needsNoise && generator ? randnTensor(generator, sample.shape) : null;
    try {
      return tf.tidy(() => {
        const pred = predictedOriginalAndEpsilon(this.config.predictionType, modelOutput, sample, alphaProdT);
        let x0 = pred.x0;
        if (this.config.clipSample) x0 = tf.clipByValue(x0, this.config.clipSampleMin, this.config.clipSampleMax);
        let prevSample = tf.add(
          tf.mul(coefficientTensor(x0Coef, batch, rank), x0),
          tf.mul(coefficientTensor(epsCoef, batch, rank), pred.epsilon),
        );
        if (noise) prevSample = tf.add(prevSample, tf.mul(coefficientTensor(noiseStd, batch, rank), noise));
        return { prevSample, predOriginalSample: x0 === modelOutput ? tf.clone(x0) : x0 };
      });
    } finally {
      noise?.dispose();
    }
  }
}

import * as tf from '@tensorflow/tfjs';
import { mseLoss } from '../losses/basic';
import type { AutoencoderKL } from '../networks/autoencoder-kl';
import { encodeLatents } from '../pipeline';
import { addNoise, getVelocity, makeNoiseSchedule, type NoiseSchedule, type SchedulerParams } from '../schedulers';
import type { Rng } from '../util/rng';
import { makeBatch, validationBatches, type SliceSet } from './data';
import { normalTensor, readScalars } from './runtime-util';

/**
 * What the LDM and ControlNet stages share beyond src/ml/pipeline: noising latents, training
 * targets and the validation loss (MONAI's inferer __call__ with the loss around it).
 */

export function noiseSchedule(p: SchedulerParams): NoiseSchedule {
  return makeNoiseSchedule({ numTrainTimesteps: p.numTrainTimesteps, schedule: p.schedule, betaStart: p.betaStart, betaEnd: p.betaEnd });
}

/** 1/std of sampled latents of one batch (the MONAI tutorials' scale; the reference hard-codes 0.3). */
export async function computeLatentScale(ae: AutoencoderKL, set: SliceSet, batchSize: number, seed: number, rngFactory: (s: number) => Rng): Promise<number> {
  const n = Math.min(batchSize, set.count);
  const batch = makeBatch(
    set,
    Array.from({ length: n }, (_, i) => i),
    null,
    null,
  );
  const z = encodeLatents(ae, batch.t1w, 1, rngFactory(seed + 17));
  const std = tf.tidy(() => tf.sqrt(tf.mean(tf.square(tf.sub(z, tf.mean(z))))));
  const value = (await std.data())[0]!;
  [batch.t1w, batch.flair, z, std].forEach((t) => t.dispose());
  if (!(value > 0) || !Number.isFinite(value)) throw new Error(`latent scale: std of the latents is ${value}; the autoencoder output is degenerate`);
  return 1 / value;
}

export interface NoisedBatch {
  xt: tf.Tensor4D;
  target: tf.Tensor4D;
  timesteps: tf.Tensor1D;
  t: number[];
}

/** t ~ U{0..T-1} per sample, eps ~ N(0, I); x_t and the training target (v or eps). */
export function noiseLatents(sched: NoiseSchedule, p: SchedulerParams, latent: tf.Tensor4D, rng: Rng): NoisedBatch {
  const b = latent.shape[0];
  const t = Array.from({ length: b }, () => rng.int(p.numTrainTimesteps));
  const noise = normalTensor(rng, latent.shape);
  const xt = addNoise(sched, latent, noise, t) as tf.Tensor4D;
  const target = (p.predictionType === 'v_prediction' ? getVelocity(sched, latent, noise, t) : tf.clone(noise)) as tf.Tensor4D;
  noise.dispose();
  return { xt, target, timesteps: tf.tensor1d(t, 'int32'), t };
}

export function disposeNoised(n: NoisedBatch): void {
  n.xt.dispose();
  n.target.dispose();
  n.timesteps.dispose();
}

/**
 * Validation loss shared by the LDM and ControlNet stages, as the reference validates both:
 * v-prediction MSE with random t and noise over the validation split, averaged per sample.
 * `predict` is the stage's model call (UNet alone, or UNet with ControlNet residuals from the
 * batch's FLAIR).
 */
export async function diffusionValidationLoss(o: {
  set: SliceSet;
  batchSize: number;
  maxBatches: number;
  ae: AutoencoderKL;
  latentScale: number;
  sched: NoiseSchedule;
  scheduler: SchedulerParams;
  rng: Rng;
  predict(xt: tf.Tensor4D, timesteps: tf.Tensor1D, count: number, flair: tf.Tensor4D): tf.Tensor4D;
}): Promise<{ loss: number; metrics: Record<string, number> }> {
  let sum = 0;
  let n = 0;
  for (const idx of validationBatches(o.set.count, o.batchSize, o.maxBatches)) {
    const batch = makeBatch(o.set, idx, null, null);
    const latent = encodeLatents(o.ae, batch.t1w, o.latentScale, o.rng);
    const noised = noiseLatents(o.sched, o.scheduler, latent, o.rng);
    const loss = tf.tidy(() => mseLoss(o.predict(noised.xt, noised.timesteps, idx.length, batch.flair), noised.target));
    sum += (await readScalars({ loss })).loss! * idx.length;
    n += idx.length;
    disposeNoised(noised);
    [batch.t1w, batch.flair, latent].forEach((t) => t.dispose());
  }
  const loss = n > 0 ? sum / n : NaN;
  return { loss, metrics: n > 0 ? { loss } : {} };
}

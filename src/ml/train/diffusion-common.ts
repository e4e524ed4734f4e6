import * as tf from '@tensorflow/tfjs';
import { mseLoss } from '../losses/basic';
import type { AutoencoderKL } from '../networks/autoencoder-kl';
import { encodeLatents } from '../pipeline';
import { addNoise, getVelocity, makeNoiseSchedule, type NoiseSchedule, type SchedulerParams } from '../schedulers';
import type { Rng } from '../util/rng';
import { makeBatch, spreadIndices, validationBatches, type SliceSet } from './data';
import { normalTensor, readScalars } from './runtime-util';

/**
 * What the LDM and ControlNet stages share beyond src/ml/pipeline: noising latents, training
 * targets and the validation loss (MONAI's inferer __call__ with the loss around it).
 */

export function noiseSchedule(p: SchedulerParams): NoiseSchedule {
  return makeNoiseSchedule({ numTrainTimesteps: p.numTrainTimesteps, schedule: p.schedule, betaStart: p.betaStart, betaEnd: p.betaEnd });
}

/** Slices the 'auto' latent scale is measured on: enough for a stable std at any batch size. */
export const LATENT_SCALE_SLICES = 32;

/**
 * 1/std of sampled latents (the MONAI tutorials' scale; the reference hard-codes 0.3), over up to
 * LATENT_SCALE_SLICES slices spread through the set, encoded `batchSize` at a time. A split is
 * stored slice by slice up the volume, so its first batch alone (two skull-base slices at the
 * desktop's batch 2) would measure the latents of mostly background.
 */
export async function computeLatentScale(ae: AutoencoderKL, set: SliceSet, batchSize: number, seed: number, rngFactory: (s: number) => Rng): Promise<number> {
  const indices = spreadIndices(set.count, LATENT_SCALE_SLICES);
  const rng = rngFactory(seed + 17);
  let n = 0;
  let sum = 0;
  let sumSq = 0;
  for (let i = 0; i < indices.length; i += Math.max(1, batchSize)) {
    const batch = makeBatch(set, indices.slice(i, i + Math.max(1, batchSize)), null, null);
    const z = encodeLatents(ae, batch.t1w, 1, rng);
    const [s, sq] = tf.tidy(() => [tf.sum(z), tf.sum(tf.square(z))]);
    sum += (await s!.data())[0]!;
    sumSq += (await sq!.data())[0]!;
    n += z.size;
    [batch.t1w, batch.flair, z, s!, sq!].forEach((t) => t.dispose());
  }
  const mean = n > 0 ? sum / n : 0;
  const value = n > 0 ? Math.sqrt(Math.max(0, sumSq / n - mean * mean)) : 0;
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

import * as tf from '@tensorflow/tfjs';
import { AutoencoderKL, type AutoencoderKLConfig } from '../networks/autoencoder-kl';
import { addNoise, getVelocity, makeNoiseSchedule, type NoiseSchedule } from '../schedulers';
import type { Rng } from '../util/rng';
import { checkpointDir, loadCheckpoint, type LoadedCheckpoint } from './checkpoint';
import type { SchedulerParams, TrainConfig } from './config';
import { makeBatch, type SliceSet } from './data';
import type { AugmentConfig } from './augment';
import { normalTensor, readScalars } from './runtime-util';
import { mseLoss } from '../losses/basic';

/** What the LDM and ControlNet stages share: frozen parents, latents, noising and targets. */

export function loadParentCheckpoint(runDir: string, what: string): LoadedCheckpoint {
  const dir = checkpointDir(runDir, 'last');
  if (!dir) throw new Error(`${what} run at ${runDir} has no checkpoint (train it first)`);
  return loadCheckpoint(dir);
}

/** The parent autoencoder, frozen (eval, never in an optimiser). */
export function loadFrozenAutoencoder(runDir: string): { ae: AutoencoderKL; config: TrainConfig } {
  const ckpt = loadParentCheckpoint(runDir, 'autoencoder');
  const config = ckpt.meta.config as unknown as TrainConfig;
  if (config.stage !== 'autoencoder' || !config.autoencoder) throw new Error(`${ckpt.dir}: not an autoencoder checkpoint`);
  const ae = new AutoencoderKL(config.autoencoder.network as unknown as AutoencoderKLConfig);
  ae.loadStateDict(ckpt.model, { source: `${ckpt.dir}/model.safetensors` });
  return { ae, config };
}

export function noiseSchedule(p: SchedulerParams): NoiseSchedule {
  return makeNoiseSchedule({ numTrainTimesteps: p.numTrainTimesteps, schedule: p.schedule, betaStart: p.betaStart, betaEnd: p.betaEnd });
}

export function latentShape(ae: AutoencoderKL, batch: number, h: number, w: number): [number, number, number, number] {
  const f = ae.downsampleFactor;
  return [batch, h / f, w / f, ae.config.latentChannels];
}

/** scale * (mu + sigma * eps): the reference trains on sampled z (C.2, J.3). */
export function encodeLatent(ae: AutoencoderKL, x: tf.Tensor4D, scale: number, rng: Rng): tf.Tensor4D {
  const [b, h, w] = x.shape;
  const eps = normalTensor(rng, latentShape(ae, b, h, w));
  try {
    return tf.tidy(() => {
      const { mu, sigma } = ae.encode(x);
      return tf.mul(ae.sample(mu, sigma, eps as tf.Tensor4D), scale) as tf.Tensor4D;
    });
  } finally {
    eps.dispose();
  }
}

/** 1/std of sampled latents of one batch (the library tutorials' scale; the reference hard-codes 0.3). */
export async function computeLatentScale(ae: AutoencoderKL, set: SliceSet, batchSize: number, seed: number, rngFactory: (s: number) => Rng): Promise<number> {
  const n = Math.min(batchSize, set.count);
  const batch = makeBatch(
    set,
    Array.from({ length: n }, (_, i) => i),
    null,
    null,
  );
  const z = encodeLatent(ae, batch.t1w, 1, rngFactory(seed + 17));
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

export function batchIndices(start: number, count: number, size: number): number[] {
  return Array.from({ length: Math.min(size, count - start) }, (_, i) => start + i);
}

export function augmentFor(train: TrainConfig, cfg: AugmentConfig): AugmentConfig | null {
  return train.augment ? cfg : null;
}

/**
 * Validation loss shared by the LDM and ControlNet stages (C.4 / D.3): v-prediction MSE with
 * random t and noise over the validation split, averaged per sample. `predict` is the stage's
 * model call (UNet alone, or UNet with ControlNet residuals from the batch's FLAIR).
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
  const maxBatches = o.maxBatches > 0 ? o.maxBatches : Infinity;
  let sum = 0;
  let n = 0;
  for (let b = 0; b * o.batchSize < o.set.count && b < maxBatches; b++) {
    const idx = batchIndices(b * o.batchSize, o.set.count, o.batchSize);
    const batch = makeBatch(o.set, idx, null, null);
    const latent = encodeLatent(o.ae, batch.t1w, o.latentScale, o.rng);
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

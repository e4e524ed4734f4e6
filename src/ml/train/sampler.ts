import * as tf from '@tensorflow/tfjs';
import { DDIMScheduler } from '../schedulers';
import type { Rng } from '../util/rng';
import type { SchedulerParams } from './config';
import { normalTensor } from './runtime-util';

/**
 * A minimal DDIM sampler for the trainers' validation figures (eta 0, the reference's D.4 loop,
 * with classifier-free guidance). The product's Generate pipeline has its own sampler; this one
 * only needs to be short and leak-free.
 */

/** Predicts the model output for x_t at timestep t given a context batch (uncond + cond stacked). */
export type Denoiser = (xt: tf.Tensor4D, t: number, context: tf.Tensor3D) => tf.Tensor4D;

export interface SampleOptions {
  scheduler: SchedulerParams;
  steps: number;
  /** [B, h, w, c] latent shape. */
  shape: [number, number, number, number];
  /** Conditional context [B, T, D]. */
  cond: tf.Tensor3D;
  /** Unconditional context [B, T, D]; guidance is skipped when null or scale is 1. */
  uncond: tf.Tensor3D | null;
  guidanceScale: number;
  rng: Rng;
}

export function ddimSample(denoise: Denoiser, o: SampleOptions): tf.Tensor4D {
  const sched = new DDIMScheduler({
    numTrainTimesteps: o.scheduler.numTrainTimesteps,
    schedule: o.scheduler.schedule,
    betaStart: o.scheduler.betaStart,
    betaEnd: o.scheduler.betaEnd,
    predictionType: o.scheduler.predictionType,
    clipSample: false,
  });
  const timesteps = sched.setTimesteps(o.steps);
  let x = normalTensor(o.rng, o.shape) as tf.Tensor4D;
  const guided = o.uncond !== null && o.guidanceScale !== 1;
  const ctx = guided ? tf.concat([o.uncond!, o.cond], 0) : null;
  try {
    for (const t of timesteps) {
      const next = tf.tidy(() => {
        let out: tf.Tensor4D;
        if (guided) {
          const both = denoise(tf.concat([x, x], 0), t, ctx as tf.Tensor3D);
          const [u, c] = tf.split(both, 2, 0) as [tf.Tensor4D, tf.Tensor4D];
          out = tf.add(u, tf.mul(tf.sub(c, u), o.guidanceScale));
        } else {
          out = denoise(x, t, o.cond);
        }
        const r = sched.step(out, t, x);
        r.predOriginalSample.dispose();
        return r.prevSample as tf.Tensor4D;
      });
      x.dispose();
      x = next;
    }
    return x;
  } finally {
    ctx?.dispose();
  }
}

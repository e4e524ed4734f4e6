/**
 * The reverse diffusion loop on NHWC latents, as MONAI's inferers' `sample`: from N(0, I) noise,
 * one model call and one scheduler step per timestep of the inference grid.
 *
 * Reproducibility: every image has its own seed, and its start noise (and DDPM / eta > 0 step
 * noise) comes from its own generator (src/ml/util/rng.ts), so an image is bitwise identical on
 * the same backend whatever batch it is computed in. By convention callers use seed + index
 * (sample k of a multi-sample request, slice z of a volume, image i of an evaluation) so any
 * single image can be regenerated on its own.
 */
import * as tf from '@tensorflow/tfjs';
import { DDIMScheduler, DDPMScheduler, type NoiseGenerator, type Scheduler, type SchedulerParams } from '../schedulers';
import { Rng } from '../util/rng';

export type SamplerKind = 'ddim' | 'ddpm';

/** Model output for latents x_t at timestep t (a plain function of tensors). */
export type Denoiser = (xt: tf.Tensor4D, t: number) => tf.Tensor4D;

/**
 * A denoiser whose forward pass runs outside tfjs (e.g. onnxruntime) and so resolves later; it
 * returns a tensor the loop owns (and disposes) and frees its own intermediates.
 */
export interface NativeDenoiser {
  native(xt: tf.Tensor4D, t: number): Promise<tf.Tensor4D>;
}

export class SamplingCancelledError extends Error {
  constructor() {
    super('sampling was cancelled');
    this.name = 'SamplingCancelledError';
  }
}

/**
 * A NoiseGenerator whose draws for a batch are the concatenation of one generator per image:
 * image b's noise depends only on its own seed.
 */
export class PerImageNoise implements NoiseGenerator {
  private readonly rngs: Rng[];

  constructor(seeds: readonly number[]) {
    if (seeds.length === 0) throw new Error('sampling needs at least one seed');
    for (const s of seeds) if (!Number.isSafeInteger(s)) throw new Error(`seed must be an integer, got ${s}`);
    this.rngs = seeds.map((s) => Rng.fromSeed(s));
  }

  get batch(): number {
    return this.rngs.length;
  }

  fillNormal(out: Float32Array): Float32Array {
    const per = out.length / this.rngs.length;
    if (!Number.isInteger(per)) throw new Error(`noise of ${out.length} values does not split over ${this.rngs.length} images`);
    this.rngs.forEach((rng, b) => rng.fillNormal(out.subarray(b * per, (b + 1) * per)));
    return out;
  }

  tensor(shape: readonly [number, number, number, number]): tf.Tensor4D {
    const size = shape.reduce((a, b) => a * b, 1);
    return tf.tensor4d(this.fillNormal(new Float32Array(size)), shape as [number, number, number, number], 'float32');
  }
}

/** Seeds for `count` images starting at `seed` (the seed + index convention). */
export function seedRange(seed: number, count: number, offset = 0): number[] {
  return Array.from({ length: count }, (_, i) => seed + offset + i);
}

/**
 * The sampling scheduler for a run's schedule, with `steps` inference steps. DDIM as the
 * reference's sampling scripts (clip_sample off); DDPM as the LDM's training scheduler
 * (clip_sample on, MONAI's default).
 */
export function samplingScheduler(p: SchedulerParams, kind: SamplerKind, steps: number): Scheduler {
  const common = {
    numTrainTimesteps: p.numTrainTimesteps,
    schedule: p.schedule,
    betaStart: p.betaStart,
    betaEnd: p.betaEnd,
    predictionType: p.predictionType,
  };
  const s: Scheduler = kind === 'ddim' ? new DDIMScheduler({ ...common, clipSample: false }) : new DDPMScheduler({ ...common, clipSample: true });
  s.setTimesteps(steps);
  return s;
}

export interface DiffusionLoopOptions {
  scheduler: SchedulerParams;
  sampler: SamplerKind;
  steps: number;
  eta: number;
  /** [B, h, w, c] latent shape. */
  shape: [number, number, number, number];
  noise: PerImageNoise;
  onStep?(done: number, total: number): void;
  shouldStop?(): boolean;
}

/** Lets timers, signals (Ctrl-C in the CLI) and cancel requests in the same thread run between steps. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The reverse process from N(0, I) latents: resolves to z_0 (caller disposes). */
export async function runDiffusion(denoise: Denoiser | NativeDenoiser, o: DiffusionLoopOptions): Promise<tf.Tensor4D> {
  if (o.noise.batch !== o.shape[0]) throw new Error(`${o.noise.batch} seeds for a batch of ${o.shape[0]}`);
  const scheduler = samplingScheduler(o.scheduler, o.sampler, o.steps);
  const timesteps = Array.from(scheduler.timesteps);
  const stepOptions = { eta: o.eta, generator: o.noise };
  let x = o.noise.tensor(o.shape);
  try {
    for (const [i, t] of timesteps.entries()) {
      await yieldToEventLoop();
      if (o.shouldStop?.()) throw new SamplingCancelledError();
      const stepFrom = (out: tf.Tensor4D) => {
        const r = scheduler.step(out, t, x, stepOptions);
        r.predOriginalSample.dispose();
        return r.prevSample as tf.Tensor4D;
      };
      let next: tf.Tensor4D;
      if (typeof denoise === 'function') {
        next = tf.tidy(() => stepFrom(denoise(x, t)));
      } else {
        const out = await denoise.native(x, t);
        try {
          next = tf.tidy(() => stepFrom(out));
        } finally {
          out.dispose();
        }
      }
      x.dispose();
      x = next;
      o.onStep?.(i + 1, timesteps.length);
    }
    return x;
  } catch (err) {
    x.dispose();
    throw err;
  }
}

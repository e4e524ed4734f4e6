/**
 * ControlNet-guided latent diffusion sampling (reference-pipeline.md D.4) and unconditional LDM
 * sampling, on NHWC tf tensors.
 *
 * Per step, as sample_flair_to_t1w.py: the latent and the FLAIR are duplicated to a batch of 2B
 * with context [uncond; cond]; the ControlNet's residuals (times the conditioning scale) are
 * applied to BOTH guidance branches; the UNet's two outputs combine as
 * out = out_uncond + s * (out_cond - out_uncond); one scheduler step. Finally
 * decode(z / latentScale), clipped to [0, 1]. Two exact shortcuts: s = 1 runs only the
 * conditional branch and s = 0 only the unconditional one (the reference's unconditional samples
 * use s = 0).
 * The unconditional prompt is the context's inference-time null ("" in the reference, J.1), or
 * the training null when no separate one exists.
 *
 * Reproducibility: every image has its own seed, and its start noise (and DDPM/eta>0 step noise)
 * comes from its own generator (src/ml/util/rng.ts), so an image is bitwise identical on the same
 * backend whatever batch it is computed in. By convention callers use seed + index (sample k of a
 * multi-sample request, slice z of a volume, image i of an evaluation) so any single image can be
 * regenerated on its own.
 */
import * as tf from '@tensorflow/tfjs';
import { DDIMScheduler, DDPMScheduler, type NoiseGenerator } from '../schedulers';
import type { SchedulerParams } from '../train/config';
import { Rng } from '../util/rng';
import type { SamplingPipeline } from './pipeline';

export type SamplerKind = 'ddim' | 'ddpm';

/** The reference's sampling settings (D.4). */
export const REFERENCE_SAMPLING = { sampler: 'ddim' as SamplerKind, steps: 200, guidanceScale: 7, conditioningScale: 1, eta: 0 };

export interface SamplingOptions {
  /** One seed per image. */
  seeds: number[];
  sampler?: SamplerKind;
  /** Inference steps (default 200 for DDIM, 1000 for DDPM). */
  steps?: number;
  /** DDIM eta (0 = deterministic, the reference). */
  eta?: number;
  /** Classifier-free guidance scale (default: the pipeline's, reference 7). */
  guidanceScale?: number;
  /** ControlNet residual scale (default: the pipeline's, reference 1). */
  conditioningScale?: number;
  /** Called after every denoising step. */
  onStep?(done: number, total: number): void;
  /** Polled before every step; true aborts with SamplingCancelledError. */
  shouldStop?(): boolean;
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

/** Classifier-free guidance: uncond + scale * (cond - uncond). */
export function guidedPrediction(uncond: tf.Tensor4D, cond: tf.Tensor4D, scale: number): tf.Tensor4D {
  return tf.tidy(() => tf.add(uncond, tf.mul(tf.sub(cond, uncond), scale)));
}

/** Model output for latents x_t at timestep t (a function of tensors; async for native runners). */
export type Denoiser = (xt: tf.Tensor4D, t: number) => tf.Tensor4D | Promise<tf.Tensor4D>;

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

function makeScheduler(p: SchedulerParams, kind: SamplerKind, steps: number): DDIMScheduler | DDPMScheduler {
  const common = {
    numTrainTimesteps: p.numTrainTimesteps,
    schedule: p.schedule,
    betaStart: p.betaStart,
    betaEnd: p.betaEnd,
    predictionType: p.predictionType,
  };
  // DDIM as sample_*.py (clip_sample False); DDPM as the LDM's training scheduler (clip_sample True).
  const s = kind === 'ddim' ? new DDIMScheduler({ ...common, clipSample: false }) : new DDPMScheduler({ ...common, clipSample: true });
  s.setTimesteps(steps);
  return s;
}

/** Lets timers, signals (Ctrl-C in the CLI) and cancel requests in the same thread run between steps. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The reverse process from N(0, I) latents: resolves to z_0 (caller disposes). */
export async function runDiffusion(denoise: Denoiser, o: DiffusionLoopOptions): Promise<tf.Tensor4D> {
  if (o.noise.batch !== o.shape[0]) throw new Error(`${o.noise.batch} seeds for a batch of ${o.shape[0]}`);
  const scheduler = makeScheduler(o.scheduler, o.sampler, o.steps);
  const timesteps = Array.from(scheduler.timesteps);
  let x = o.noise.tensor(o.shape);
  try {
    for (const [i, t] of timesteps.entries()) {
      await yieldToEventLoop();
      if (o.shouldStop?.()) throw new SamplingCancelledError();
      const out = await denoise(x, t);
      const next = tf.tidy(() => {
        const r =
          scheduler instanceof DDIMScheduler
            ? scheduler.step(out, t, x, o.eta > 0 ? { eta: o.eta, generator: o.noise } : {})
            : scheduler.step(out, t, x, o.noise);
        r.predOriginalSample.dispose();
        return r.prevSample as tf.Tensor4D;
      });
      out.dispose();
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

function resolveSteps(opts: SamplingOptions, sampler: SamplerKind, trainSteps: number): number {
  const steps = opts.steps ?? (sampler === 'ddim' ? REFERENCE_SAMPLING.steps : trainSteps);
  if (!Number.isInteger(steps) || steps < 1 || steps > trainSteps) {
    throw new Error(`steps must be an integer from 1 to ${trainSteps}, got ${opts.steps}`);
  }
  return steps;
}

function latentShape(p: SamplingPipeline, batch: number): [number, number, number, number] {
  const f = p.ae.downsampleFactor;
  const [h, w] = p.info.imageSize;
  return [batch, h / f, w / f, p.ae.config.latentChannels];
}

/** decode(z / scale), clipped to [0, 1], as [B, H, W] row-major floats; disposes z. */
async function decodeImages(p: SamplingPipeline, z: tf.Tensor4D): Promise<Float32Array> {
  let img: tf.Tensor;
  if (p.runners) {
    const scaled = tf.div(z, p.info.latentScale) as tf.Tensor4D;
    const decoded = await p.runners.decode(scaled).finally(() => scaled.dispose());
    img = tf.clipByValue(decoded, 0, 1);
    decoded.dispose();
  } else {
    img = tf.tidy(() => tf.clipByValue(p.ae.decode(tf.div(z, p.info.latentScale) as tf.Tensor4D), 0, 1));
  }
  z.dispose();
  try {
    const data = await img.data();
    return data instanceof Float32Array ? data : Float32Array.from(data);
  } finally {
    img.dispose();
  }
}

/**
 * The guided ControlNet denoiser of D.4 for a FLAIR batch [B, H, W, 1] at the model's size.
 * Exposed for tests; translateSlices is the entry point.
 */
export function controlNetDenoiser(p: SamplingPipeline, flair: tf.Tensor4D, guidanceScale: number, conditioningScale: number): { denoise: Denoiser; dispose(): void } {
  const controlnet = p.controlnet;
  if (!controlnet) throw new Error('this pipeline has no ControlNet (load one with a controlnet source)');
  const b = flair.shape[0];
  const cond = p.context.repeat('prompt', b);
  const uncond = p.context.repeat('null_infer', b);
  const both = guidanceScale !== 0 && guidanceScale !== 1;
  const ctx2 = both ? tf.concat([uncond, cond], 0) : null;
  const flair2 = both ? tf.concat([flair, flair], 0) : null;
  const controlled = (x: tf.Tensor4D, t: number, ctx: tf.Tensor3D, f: tf.Tensor4D) => {
    const ts = tf.fill([x.shape[0]], t, 'int32') as tf.Tensor1D;
    const residuals = controlnet.forward(x, ts, ctx, f, conditioningScale);
    return p.unet.forward(x, ts, ctx, residuals);
  };
  const native = p.runners?.controlledUnet?.bind(p.runners);
  const nativeDenoise: Denoiser | null = native
    ? async (x, t) => {
        const ts = tf.fill([1], t, 'int32') as tf.Tensor1D;
        const x2 = both ? tf.concat([x, x], 0) : x;
        try {
          const out = await native(x2, ts, both ? (ctx2 as tf.Tensor3D) : guidanceScale === 0 ? uncond : cond, both ? (flair2 as tf.Tensor4D) : flair, conditioningScale);
          if (!both) return out;
          const guided = tf.tidy(() => {
            const [u, c] = tf.split(out, 2, 0) as [tf.Tensor4D, tf.Tensor4D];
            return guidedPrediction(u, c, guidanceScale);
          });
          out.dispose();
          return guided;
        } finally {
          ts.dispose();
          if (x2 !== x) x2.dispose();
        }
      }
    : null;
  const denoise: Denoiser = nativeDenoise ?? ((x, t) =>
    tf.tidy(() => {
      if (!both) return controlled(x, t, guidanceScale === 0 ? uncond : cond, flair);
      const out = controlled(tf.concat([x, x], 0), t, ctx2 as tf.Tensor3D, flair2 as tf.Tensor4D);
      const [u, c] = tf.split(out, 2, 0) as [tf.Tensor4D, tf.Tensor4D];
      return guidedPrediction(u, c, guidanceScale);
    }));
  return {
    denoise,
    dispose() {
      [cond, uncond, ctx2, flair2].forEach((t) => t?.dispose());
    },
  };
}

/** The reverse chain from per-image seeded latent noise with `denoise`, decoded: [B, H, W] in [0, 1]. */
async function sampleImages(p: SamplingPipeline, denoise: Denoiser, opts: SamplingOptions, sampler: SamplerKind, steps: number): Promise<Float32Array> {
  const z = await runDiffusion(denoise, {
    scheduler: p.info.scheduler,
    sampler,
    steps,
    eta: opts.eta ?? 0,
    shape: latentShape(p, opts.seeds.length),
    noise: new PerImageNoise(opts.seeds),
    onStep: opts.onStep,
    shouldStop: opts.shouldStop,
  });
  return decodeImages(p, z);
}

/**
 * FLAIR slices -> synthetic T1w slices, all at the pipeline's image size: `flair` holds
 * seeds.length row-major [H, W] images in [0, 1]; returns the same layout in [0, 1].
 * The whole set is one batch (callers split large sets).
 */
export async function translateSlices(p: SamplingPipeline, flair: Float32Array, opts: SamplingOptions): Promise<Float32Array> {
  const [h, w] = p.info.imageSize;
  const b = opts.seeds.length;
  if (flair.length !== b * h * w) throw new Error(`translateSlices: ${flair.length} FLAIR values are not ${b} slices of ${h}x${w} (one seed per slice)`);
  const sampler = opts.sampler ?? 'ddim';
  const steps = resolveSteps(opts, sampler, p.info.scheduler.numTrainTimesteps);
  const flairT = tf.tensor4d(flair, [b, h, w, 1]);
  const guided = controlNetDenoiser(p, flairT, opts.guidanceScale ?? p.info.guidanceScale, opts.conditioningScale ?? p.info.conditioningScale);
  try {
    return await sampleImages(p, guided.denoise, opts, sampler, steps);
  } finally {
    guided.dispose();
    flairT.dispose();
  }
}

/**
 * Unconditional LDM samples (for FID and diversity, as sample_t1w.py: the null prompt, no
 * ControlNet, guidance 0 = the pure unconditional branch). Returns [B, H, W] in [0, 1].
 */
export async function sampleUnconditional(p: SamplingPipeline, opts: SamplingOptions): Promise<Float32Array> {
  const b = opts.seeds.length;
  const sampler = opts.sampler ?? 'ddim';
  const steps = resolveSteps(opts, sampler, p.info.scheduler.numTrainTimesteps);
  const uncond = p.context.repeat('null_infer', b);
  const runners = p.runners;
  const denoise: Denoiser = runners
    ? async (x, t) => {
        const ts = tf.fill([1], t, 'int32') as tf.Tensor1D;
        return runners.unet(x, ts, uncond).finally(() => ts.dispose());
      }
    : (x, t) => tf.tidy(() => p.unet.forward(x, tf.fill([b], t, 'int32') as tf.Tensor1D, uncond));
  try {
    return await sampleImages(p, denoise, opts, sampler, steps);
  } finally {
    uncond.dispose();
  }
}

/**
 * Guided latent sampling for callers that bring their own denoiser over a context batch (the
 * trainers' validation figures): out = uncond + s * (cond - uncond) with both branches in one
 * batch of 2B (context [uncond; cond]), the scheduler loop of runDiffusion, per-image seeds.
 * Returns z_0 (caller decodes and disposes).
 */
export async function guidedLatentSample(
  denoise: (xt: tf.Tensor4D, t: number, context: tf.Tensor3D) => tf.Tensor4D,
  o: {
    scheduler: SchedulerParams;
    steps: number;
    shape: [number, number, number, number];
    cond: tf.Tensor3D;
    uncond: tf.Tensor3D;
    guidanceScale: number;
    seeds: number[];
    sampler?: SamplerKind;
    eta?: number;
    onStep?(done: number, total: number): void;
  },
): Promise<tf.Tensor4D> {
  const both = o.guidanceScale !== 0 && o.guidanceScale !== 1;
  const ctx2 = both ? tf.concat([o.uncond, o.cond], 0) : null;
  try {
    const guided: Denoiser = (x, t) =>
      tf.tidy(() => {
        if (!both) return denoise(x, t, o.guidanceScale === 0 ? o.uncond : o.cond);
        const [u, c] = tf.split(denoise(tf.concat([x, x], 0), t, ctx2 as tf.Tensor3D), 2, 0) as [tf.Tensor4D, tf.Tensor4D];
        return guidedPrediction(u, c, o.guidanceScale);
      });
    return await runDiffusion(guided, {
      scheduler: o.scheduler,
      sampler: o.sampler ?? 'ddim',
      steps: o.steps,
      eta: o.eta ?? 0,
      shape: o.shape,
      noise: new PerImageNoise(o.seeds),
      onStep: o.onStep,
    });
  } finally {
    ctx2?.dispose();
  }
}

/** Seeds for `count` images starting at `seed` (the seed + index convention). */
export function seedRange(seed: number, count: number, offset = 0): number[] {
  return Array.from({ length: count }, (_, i) => seed + offset + i);
}

/**
 * FLAIR -> T1w translation with the ControlNet-guided latent diffusion pipeline, and
 * unconditional LDM sampling, on NHWC tf tensors, as the reference's sampling scripts: per step
 * the ControlNet's residuals (times the conditioning scale) are applied to BOTH classifier-free
 * guidance branches, then one scheduler step; finally decode(z / latentScale), clipped to [0, 1].
 * The unconditional prompt is the context's inference-time null (the reference's "" prompt), or
 * the training null when no separate one exists.
 *
 * Every image has its own seed (see src/ml/pipeline/diffusion.ts): any single image can be
 * regenerated on its own, bitwise, whatever batch it was first computed in.
 */
import * as tf from '@tensorflow/tfjs';
import {
  batchOf,
  controlledForward,
  decodeLatents,
  guidedDenoiser,
  guidedNativeDenoiser,
  latentShape,
  PerImageNoise,
  runDiffusion,
  type Denoiser,
  type NativeDenoiser,
  type SamplerKind,
  type SamplingPipeline,
} from '../pipeline';

export type { SamplerKind };

/** The reference's sampling settings: 200 DDIM steps, guidance 7, ControlNet scale 1, eta 0. */
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

function resolveSteps(opts: SamplingOptions, sampler: SamplerKind, trainSteps: number): number {
  const steps = opts.steps ?? (sampler === 'ddim' ? REFERENCE_SAMPLING.steps : trainSteps);
  if (!Number.isInteger(steps) || steps < 1 || steps > trainSteps) {
    throw new Error(`steps must be an integer from 1 to ${trainSteps}, got ${opts.steps}`);
  }
  return steps;
}

/** decode(z / scale), clipped to [0, 1], as [B, H, W] row-major floats; disposes z. */
async function decodeImages(p: SamplingPipeline, z: tf.Tensor4D): Promise<Float32Array> {
  let img: tf.Tensor4D;
  if (p.runners) {
    const scaled = tf.div(z, p.info.latentScale) as tf.Tensor4D;
    const decoded = await p.runners.decode(scaled).finally(() => scaled.dispose());
    img = tf.clipByValue(decoded, 0, 1);
    decoded.dispose();
  } else {
    img = decodeLatents(p.ae, z, p.info.latentScale);
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
 * The guided ControlNet denoiser for a FLAIR batch [B, H, W, 1] at the model's size.
 * Exposed for tests; translateSlices is the entry point.
 */
export function controlNetDenoiser(p: SamplingPipeline, flair: tf.Tensor4D, guidanceScale: number, conditioningScale: number): { denoise: Denoiser | NativeDenoiser; dispose(): void } {
  const controlnet = p.controlnet;
  if (!controlnet) throw new Error('this pipeline has no ControlNet (load one with a controlnet source)');
  const b = flair.shape[0];
  const cond = p.context.repeat('prompt', b);
  const uncond = p.context.repeat('null_infer', b);
  const flairs = batchOf(flair, guidanceScale);
  const nets = { unet: p.unet, controlnet };
  const native = p.runners?.controlledUnet?.bind(p.runners);
  const guided = native
    ? guidedNativeDenoiser(
        (x, t, ctx) => {
          const ts = tf.fill([1], t, 'int32') as tf.Tensor1D;
          return native(x, ts, ctx, flairs.at(x.shape[0]), conditioningScale).finally(() => ts.dispose());
        },
        { cond, uncond, guidanceScale },
      )
    : guidedDenoiser(
        (x, t, ctx) => controlledForward(nets, x, tf.fill([x.shape[0]], t, 'int32') as tf.Tensor1D, ctx, flairs.at(x.shape[0]), conditioningScale),
        { cond, uncond, guidanceScale },
      );
  return {
    denoise: guided.denoise,
    dispose() {
      guided.dispose();
      flairs.dispose();
      cond.dispose();
      uncond.dispose();
    },
  };
}

/** The reverse chain from per-image seeded latent noise with `denoise`, decoded: [B, H, W] in [0, 1]. */
async function sampleImages(p: SamplingPipeline, denoise: Denoiser | NativeDenoiser, opts: SamplingOptions, sampler: SamplerKind, steps: number): Promise<Float32Array> {
  const z = await runDiffusion(denoise, {
    scheduler: p.info.scheduler,
    sampler,
    steps,
    eta: opts.eta ?? 0,
    shape: latentShape(p.ae, opts.seeds.length, ...p.info.imageSize),
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
  const denoise: Denoiser | NativeDenoiser = runners
    ? {
        native: (x, t) => {
          const ts = tf.fill([1], t, 'int32') as tf.Tensor1D;
          return runners.unet(x, ts, uncond).finally(() => ts.dispose());
        },
      }
    : (x: tf.Tensor4D, t: number) => tf.tidy(() => p.unet.forward(x, tf.fill([b], t, 'int32') as tf.Tensor1D, uncond));
  try {
    return await sampleImages(p, denoise, opts, sampler, steps);
  } finally {
    uncond.dispose();
  }
}

/**
 * Classifier-free guidance: out = out_uncond + s * (out_cond - out_uncond). Both branches run in
 * one network call on a batch of 2B (latents duplicated, context [uncond; cond]), as the
 * reference's sampling scripts do. Two exact shortcuts: s = 1 runs only the conditional branch
 * and s = 0 only the unconditional one (the reference's unconditional samples use s = 0).
 */
import * as tf from '@tensorflow/tfjs';
import type { SchedulerParams } from '../schedulers';
import { PerImageNoise, runDiffusion, type Denoiser, type NativeDenoiser, type SamplerKind } from './diffusion';

/** uncond + scale * (cond - uncond). */
export function guidedPrediction(uncond: tf.Tensor4D, cond: tf.Tensor4D, scale: number): tf.Tensor4D {
  return tf.tidy(() => tf.add(uncond, tf.mul(tf.sub(cond, uncond), scale)));
}

/**
 * A network call over a context batch: x_t [N, h, w, c] at timestep t with context [N, T, D].
 * N is B or, when both guidance branches run, 2B (uncond half first); a conditioning image that
 * goes with the batch must be duplicated the same way (see `batchOf`).
 */
export type ContextDenoiser = (xt: tf.Tensor4D, t: number, context: tf.Tensor3D) => tf.Tensor4D;

export interface GuidanceOptions {
  /** [B, T, D] contexts. */
  cond: tf.Tensor3D;
  uncond: tf.Tensor3D;
  guidanceScale: number;
}

/** The guided denoiser over `denoise`; dispose() releases the batched context. */
export function guidedDenoiser(denoise: ContextDenoiser, o: GuidanceOptions): { denoise: Denoiser; dispose(): void } {
  const both = o.guidanceScale !== 0 && o.guidanceScale !== 1;
  const ctx2 = both ? tf.concat([o.uncond, o.cond], 0) : null;
  const guided: Denoiser = (x, t) =>
    tf.tidy(() => {
      if (!ctx2) return denoise(x, t, o.guidanceScale === 0 ? o.uncond : o.cond);
      const [u, c] = tf.split(denoise(tf.concat([x, x], 0), t, ctx2), 2, 0) as [tf.Tensor4D, tf.Tensor4D];
      return guidedPrediction(u, c, o.guidanceScale);
    });
  return { denoise: guided, dispose: () => ctx2?.dispose() };
}

/** A ContextDenoiser whose forward pass runs outside tfjs and resolves later (see NativeDenoiser). */
export type NativeContextDenoiser = (xt: tf.Tensor4D, t: number, context: tf.Tensor3D) => Promise<tf.Tensor4D>;

/** guidedDenoiser for a native forward pass: the same batching and combination, awaited. */
export function guidedNativeDenoiser(denoise: NativeContextDenoiser, o: GuidanceOptions): { denoise: NativeDenoiser; dispose(): void } {
  const both = o.guidanceScale !== 0 && o.guidanceScale !== 1;
  const ctx2 = both ? tf.concat([o.uncond, o.cond], 0) : null;
  const native = async (x: tf.Tensor4D, t: number): Promise<tf.Tensor4D> => {
    if (!ctx2) return denoise(x, t, o.guidanceScale === 0 ? o.uncond : o.cond);
    const x2 = tf.concat([x, x], 0);
    const out = await denoise(x2, t, ctx2).finally(() => x2.dispose());
    try {
      return tf.tidy(() => {
        const [u, c] = tf.split(out, 2, 0) as [tf.Tensor4D, tf.Tensor4D];
        return guidedPrediction(u, c, o.guidanceScale);
      });
    } finally {
      out.dispose();
    }
  };
  return { denoise: { native }, dispose: () => ctx2?.dispose() };
}

/**
 * A per-image conditioning tensor [B, ...] matched to the batch a guided denoiser calls with:
 * itself for B, or [c; c] for 2B (made once; dispose() releases it).
 */
export function batchOf(cond: tf.Tensor4D, guidanceScale: number): { at(batch: number): tf.Tensor4D; dispose(): void } {
  const both = guidanceScale !== 0 && guidanceScale !== 1;
  const doubled = both ? (tf.concat([cond, cond], 0) as tf.Tensor4D) : null;
  return {
    at(batch) {
      if (batch === cond.shape[0]) return cond;
      if (doubled && batch === doubled.shape[0]) return doubled;
      throw new Error(`conditioning for ${cond.shape[0]} images does not match a batch of ${batch}`);
    },
    dispose: () => doubled?.dispose(),
  };
}

/**
 * Guided latent sampling for a network call over a context batch: classifier-free guidance
 * (guidedDenoiser) inside the loop of runDiffusion, per-image seeds. Returns z_0 (caller decodes
 * and disposes).
 */
export async function guidedLatentSample(
  denoise: ContextDenoiser,
  o: GuidanceOptions & {
    scheduler: SchedulerParams;
    steps: number;
    shape: [number, number, number, number];
    seeds: number[];
    sampler?: SamplerKind;
    eta?: number;
    onStep?(done: number, total: number): void;
    shouldStop?(): boolean;
  },
): Promise<tf.Tensor4D> {
  const guided = guidedDenoiser(denoise, o);
  try {
    return await runDiffusion(guided.denoise, {
      scheduler: o.scheduler,
      sampler: o.sampler ?? 'ddim',
      steps: o.steps,
      eta: o.eta ?? 0,
      shape: o.shape,
      noise: new PerImageNoise(o.seeds),
      onStep: o.onStep,
      shouldStop: o.shouldStop,
    });
  } finally {
    guided.dispose();
  }
}

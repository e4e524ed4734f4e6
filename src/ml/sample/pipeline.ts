/**
 * A trained FLAIR -> T1w pipeline ready to sample: the frozen autoencoder, the LDM's UNet, the
 * ControlNet (optional: unconditional LDM sampling needs none), the cross-attention context and
 * the latent scale, loaded from brainsynth training checkpoints (src/ml/train/checkpoint.ts).
 *
 * Sources are run folders (their "last" checkpoint, or "best" on request) or checkpoint folders
 * (a folder holding meta.json). A run folder does not know its parents (the store does), so the
 * caller names all three; src/main/services resolves them from a ControlNet run id.
 */
import type * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AutoencoderKL, type AutoencoderKLConfig } from '../networks/autoencoder-kl';
import { ControlNet, type ControlNetConfig } from '../networks/controlnet';
import { DiffusionModelUNet, type DiffusionUNetConfig } from '../networks/diffusion-unet';
import { checkpointDir, loadCheckpoint, type CheckpointKind, type LoadedCheckpoint } from '../train/checkpoint';
import type { SchedulerParams, TrainConfig } from '../train/config';
import { ConditioningContext } from '../train/context';
import { SLICE_HEIGHT, SLICE_WIDTH } from '../data/slices';

export interface PipelineSources {
  /** ControlNet run or checkpoint folder; omit for unconditional LDM sampling. */
  controlnet?: string;
  ldm: string;
  autoencoder: string;
  /** Which checkpoint of a run folder (default 'last', the reference's final-epoch weights). */
  checkpoint?: CheckpointKind;
}

/** What a pipeline was trained with; sampling defaults come from here. */
export interface PipelineInfo {
  /** [height, width] the networks run at (160x224 reference, 80x112 desktop). */
  imageSize: [number, number];
  latentScale: number;
  scheduler: SchedulerParams;
  /** ControlNet conditioning scale used in training (reference 1). */
  conditioningScale: number;
  /** Guidance scale of the training config's validation figures (reference 7). */
  guidanceScale: number;
  /** Checkpoint folders actually loaded. */
  checkpoints: { controlnet: string | null; ldm: string; autoencoder: string };
  /** Step of each loaded checkpoint. */
  steps: { controlnet: number | null; ldm: number; autoencoder: number };
  /** Context source (learned in the LDM run, or a precomputed context file). */
  contextSource: string;
}

/**
 * Native forward passes the sampler uses instead of the tfjs networks when a pipeline has them
 * (onnxruntime, src/ml/sample/native.ts): the same NHWC tensors in and out, but async. Each
 * equals the tfjs call named in its comment.
 */
export interface InferenceRunners {
  /** What runs them, for logs (e.g. "onnxruntime cpu, 16 threads"). */
  readonly description: string;
  /** unet.forward(x, t, ctx, controlnet.forward(x, t, ctx, cond, scale)); absent without a ControlNet. */
  controlledUnet?(x: tf.Tensor4D, timesteps: tf.Tensor1D, context: tf.Tensor3D, cond: tf.Tensor4D, conditioningScale: number): Promise<tf.Tensor4D>;
  /** unet.forward(x, t, ctx). */
  unet(x: tf.Tensor4D, timesteps: tf.Tensor1D, context: tf.Tensor3D): Promise<tf.Tensor4D>;
  /** ae.decode(z). */
  decode(z: tf.Tensor4D): Promise<tf.Tensor4D>;
  dispose(): Promise<void>;
}

export interface SamplingPipeline {
  ae: AutoencoderKL;
  unet: DiffusionModelUNet;
  controlnet: ControlNet | null;
  context: ConditioningContext;
  info: PipelineInfo;
  /** Set to sample with native runners instead of the tfjs networks (null/absent: tfjs). */
  runners?: InferenceRunners | null;
  dispose(): void;
}

function resolveCheckpoint(path: string, what: string, kind: CheckpointKind): LoadedCheckpoint {
  if (!existsSync(path)) throw new Error(`${what}: ${path} does not exist`);
  if (existsSync(join(path, 'meta.json'))) return loadCheckpoint(path);
  const dir = checkpointDir(path, kind);
  if (!dir) throw new Error(`${what}: ${path} has no '${kind}' checkpoint (is it a finished ${what} run folder?)`);
  return loadCheckpoint(dir);
}

function stageConfig(ckpt: LoadedCheckpoint, stage: TrainConfig['stage']): TrainConfig {
  const cfg = ckpt.meta.config as unknown as TrainConfig;
  if (!cfg || cfg.stage !== stage || !cfg[stage]) {
    throw new Error(`${ckpt.dir}: expected a ${stage} checkpoint, found stage '${String(cfg?.stage ?? ckpt.meta.stage)}'`);
  }
  return cfg;
}

function checkImageSize(size: unknown, where: string): [number, number] {
  const s = size as [number, number];
  if (!Array.isArray(s) || s.length !== 2 || SLICE_HEIGHT % s[0] !== 0 || SLICE_WIDTH % s[1] !== 0) {
    throw new Error(`${where}: imageSize ${JSON.stringify(size)} must divide ${SLICE_HEIGHT}x${SLICE_WIDTH} by whole factors`);
  }
  return [s[0], s[1]];
}

function latentScaleOf(ckpt: LoadedCheckpoint): number | null {
  const v = ckpt.state.get('latent_scale')?.data[0];
  return v !== undefined && Number.isFinite(v) && v > 0 ? v : null;
}

/** The parents file a ControlNet (or LDM) run folder may hold: {ldm?, autoencoder} run folders. */
export const PIPELINE_FILE = 'pipeline.json';

/**
 * Sources from a run folder alone: the folder's `pipeline.json` names its parents' run folders
 * (written by the main side when it first resolves the run from the store; relative paths are
 * relative to the run folder). A ControlNet run folder gives a conditional pipeline, an LDM run
 * folder an unconditional one.
 */
export function sourcesFromRunDir(runDir: string, checkpoint?: CheckpointKind): PipelineSources {
  const file = join(runDir, PIPELINE_FILE);
  if (!existsSync(file)) {
    throw new Error(`${runDir}: no ${PIPELINE_FILE} naming the parent runs; pass {controlnet, ldm, autoencoder} folders instead`);
  }
  let parsed: { stage?: string; ldm?: string; autoencoder?: string };
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as typeof parsed;
  } catch (err) {
    throw new Error(`${file}: not readable JSON (${(err as Error).message})`);
  }
  if (!parsed.autoencoder || (parsed.stage !== 'ldm' && !parsed.ldm)) throw new Error(`${file}: needs "autoencoder" and (for a ControlNet run) "ldm" run folders`);
  const abs = (p: string) => resolve(runDir, p);
  return parsed.stage === 'ldm'
    ? { ldm: runDir, autoencoder: abs(parsed.autoencoder), checkpoint }
    : { controlnet: runDir, ldm: abs(parsed.ldm!), autoencoder: abs(parsed.autoencoder), checkpoint };
}

/**
 * Loads the networks and context of a trained pipeline (weights verified against their hashes),
 * from explicit run/checkpoint folders or from a run folder holding pipeline.json.
 */
export function loadPipeline(sourcesOrRunDir: PipelineSources | string): SamplingPipeline {
  const sources = typeof sourcesOrRunDir === 'string' ? sourcesFromRunDir(sourcesOrRunDir) : sourcesOrRunDir;
  const kind = sources.checkpoint ?? 'last';
  const aeCkpt = resolveCheckpoint(sources.autoencoder, 'autoencoder', kind);
  const ldmCkpt = resolveCheckpoint(sources.ldm, 'ldm', kind);
  const cnCkpt = sources.controlnet ? resolveCheckpoint(sources.controlnet, 'controlnet', kind) : null;
  const aeCfg = stageConfig(aeCkpt, 'autoencoder');
  const ldmCfg = stageConfig(ldmCkpt, 'ldm');
  const cnCfg = cnCkpt ? stageConfig(cnCkpt, 'controlnet') : null;

  const ae = new AutoencoderKL(aeCfg.autoencoder!.network as unknown as AutoencoderKLConfig);
  const unet = new DiffusionModelUNet(ldmCfg.ldm!.network as unknown as DiffusionUNetConfig);
  let controlnet: ControlNet | null = null;
  let context: ConditioningContext | null = null;
  try {
    ae.loadStateDict(aeCkpt.model, { source: join(aeCkpt.dir, 'model.safetensors') });
    unet.loadStateDict(ldmCkpt.model, { source: join(ldmCkpt.dir, 'model.safetensors') });
    if (cnCkpt && cnCfg) {
      controlnet = new ControlNet(cnCfg.controlnet!.network as unknown as ControlNetConfig);
      controlnet.loadStateDict(cnCkpt.model, { source: join(cnCkpt.dir, 'model.safetensors') });
    }
    // The ControlNet run stores the (frozen) context it trained with; it equals the LDM's.
    const ctxCkpt = cnCkpt?.context ? cnCkpt : ldmCkpt;
    if (!ctxCkpt.context) throw new Error(`${ldmCkpt.dir}: LDM checkpoint has no context.safetensors (prompt / null embeddings)`);
    context = ConditioningContext.fromStateDict(ctxCkpt.context, {
      trainable: false,
      source: join(ctxCkpt.dir, 'context.safetensors'),
      expectDim: unet.config.crossAttentionDim,
    });
    const latentScale =
      (cnCkpt && latentScaleOf(cnCkpt)) ??
      latentScaleOf(ldmCkpt) ??
      (typeof ldmCfg.ldm!.latentScale === 'number' ? ldmCfg.ldm!.latentScale : null);
    if (latentScale === null) throw new Error(`${ldmCkpt.dir}: no latent scale recorded (state latent_scale or config ldm.latentScale)`);
    const main = cnCfg ?? ldmCfg;
    const imageSize = checkImageSize(main.imageSize, `${(cnCkpt ?? ldmCkpt).dir}/meta.json`);
    const aeSize = checkImageSize(aeCfg.imageSize ?? imageSize, `${aeCkpt.dir}/meta.json`);
    if (aeSize[0] !== imageSize[0] || aeSize[1] !== imageSize[1]) {
      throw new Error(`${(cnCkpt ?? ldmCkpt).dir}: trained at ${imageSize.join('x')} but its autoencoder at ${aeSize.join('x')}`);
    }
    if (imageSize[0] % ae.downsampleFactor !== 0 || imageSize[1] % ae.downsampleFactor !== 0) {
      throw new Error(`image size ${imageSize.join('x')} is not divisible by the autoencoder's downsampling factor ${ae.downsampleFactor}`);
    }
    const stage = cnCfg?.controlnet ?? ldmCfg.ldm!;
    const info: PipelineInfo = {
      imageSize,
      latentScale,
      scheduler: { ...(stage.scheduler ?? ldmCfg.ldm!.scheduler) },
      conditioningScale: cnCfg?.controlnet?.conditioningScale ?? 1,
      guidanceScale: stage.guidanceScale ?? 7,
      checkpoints: { controlnet: cnCkpt?.dir ?? null, ldm: ldmCkpt.dir, autoencoder: aeCkpt.dir },
      steps: { controlnet: cnCkpt?.meta.step ?? null, ldm: ldmCkpt.meta.step, autoencoder: aeCkpt.meta.step },
      contextSource: context.source,
    };
    const ctx = context;
    const cn = controlnet;
    return {
      ae,
      unet,
      controlnet: cn,
      context: ctx,
      info,
      runners: null,
      dispose() {
        void this.runners?.dispose();
        this.runners = null;
        ae.dispose();
        unet.dispose();
        cn?.dispose();
        ctx.dispose();
      },
    };
  } catch (err) {
    ae.dispose();
    unet.dispose();
    controlnet?.dispose();
    context?.dispose();
    throw err;
  }
}

/**
 * Loading trained networks from brainsynth checkpoints (checkpoint.ts): the one place that turns
 * run or checkpoint folders into an autoencoder, a UNet with its conditioning context and latent
 * scale, and a ControlNet. Training loads its frozen parents here; sampling loads a whole pipeline.
 *
 * Sources are run folders (their "last" checkpoint, or "best" on request) or checkpoint folders
 * (a folder holding meta.json). A run folder does not know its parents (the store does), so the
 * caller names all three, or the run folder holds a pipeline.json naming them.
 */
import type * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SLICE_HEIGHT, SLICE_WIDTH } from '../data/slices';
import { AutoencoderKL, type AutoencoderKLConfig } from '../networks/autoencoder-kl';
import { ControlNet, type ControlNetConfig } from '../networks/controlnet';
import { DiffusionModelUNet, type DiffusionUNetConfig } from '../networks/diffusion-unet';
import type { SchedulerParams } from '../schedulers';
import { checkpointDir, loadCheckpoint, type CheckpointKind, type LoadedCheckpoint } from './checkpoint';
import { ConditioningContext } from './context';
import { DEFAULT_LATENT_SCALE } from './latents';

type NetworkParams = Record<string, unknown>;

/** The parts of the training config recorded in a checkpoint that loading reads. */
export interface CheckpointConfig {
  stage: 'autoencoder' | 'ldm' | 'controlnet';
  imageSize?: [number, number];
  autoencoder?: { network: NetworkParams };
  ldm?: { network: NetworkParams; scheduler: SchedulerParams; latentScale?: number | 'auto'; guidanceScale?: number };
  controlnet?: {
    network: NetworkParams;
    scheduler?: SchedulerParams;
    conditioningScale?: number;
    sampleConditioningScale?: number;
    sampleBrainMask?: boolean;
    guidanceScale?: number;
  };
  preset?: string;
}

/** A checkpoint folder given directly, or the `kind` checkpoint of a run folder; `what` names the stage in errors. */
export function resolveCheckpoint(path: string, what: CheckpointConfig['stage'], kind: CheckpointKind = 'last'): LoadedCheckpoint {
  if (!existsSync(path)) throw new Error(`${what}: ${path} does not exist`);
  if (existsSync(join(path, 'meta.json'))) return loadCheckpoint(path);
  const dir = checkpointDir(path, kind);
  if (!dir) throw new Error(`${what}: ${path} has no '${kind}' checkpoint (is it a finished ${what} run folder?)`);
  return loadCheckpoint(dir);
}

/** The checkpoint's training config, checked to be of `stage` with that stage's section. */
function stageConfig(ckpt: LoadedCheckpoint, stage: CheckpointConfig['stage']): CheckpointConfig {
  const cfg = ckpt.meta.config as unknown as CheckpointConfig;
  if (!cfg || cfg.stage !== stage || !cfg[stage]) {
    throw new Error(`${ckpt.dir}: expected a ${stage} checkpoint, found stage '${String(cfg?.stage ?? ckpt.meta.stage)}'`);
  }
  return cfg;
}

const modelFile = (ckpt: LoadedCheckpoint) => join(ckpt.dir, 'model.safetensors');

/** The latent scale a LDM or ControlNet checkpoint's state records (trainers always write it). */
function recordedLatentScale(ckpt: LoadedCheckpoint): number | null {
  const v = ckpt.state.get('latent_scale')?.data[0];
  return v !== undefined && Number.isFinite(v) && v > 0 ? v : null;
}

export interface LoadedAutoencoder {
  ae: AutoencoderKL;
  checkpoint: LoadedCheckpoint;
  config: CheckpointConfig;
}

/** The autoencoder of a run or checkpoint folder, weights loaded (frozen: callers never train it). */
export function loadAutoencoder(source: string, kind: CheckpointKind = 'last'): LoadedAutoencoder {
  return autoencoderFrom(resolveCheckpoint(source, 'autoencoder', kind));
}

function autoencoderFrom(checkpoint: LoadedCheckpoint): LoadedAutoencoder {
  const config = stageConfig(checkpoint, 'autoencoder');
  const ae = new AutoencoderKL(config.autoencoder!.network as unknown as AutoencoderKLConfig);
  try {
    ae.loadStateDict(checkpoint.model, { source: modelFile(checkpoint) });
  } catch (err) {
    ae.dispose();
    throw err;
  }
  return { ae, checkpoint, config };
}

/** Where a latent scale came from: a checkpoint's state, its config, or DEFAULT_LATENT_SCALE. */
export type LatentScaleSource = 'checkpoint' | 'config' | 'default';

export interface LoadedLdm {
  unet: DiffusionModelUNet;
  /** The prompt / null context the UNet was trained with. */
  context: ConditioningContext;
  /**
   * latent = scale * z: the scale the checkpoint records, else its config's number, else the
   * reference's DEFAULT_LATENT_SCALE.
   */
  latentScale: number;
  latentScaleFrom: LatentScaleSource;
  checkpoint: LoadedCheckpoint;
  config: CheckpointConfig;
  dispose(): void;
}

/** The LDM's UNet, context and latent scale from a run or checkpoint folder. */
export function loadLdm(source: string, kind: CheckpointKind = 'last'): LoadedLdm {
  return ldmFrom(resolveCheckpoint(source, 'ldm', kind));
}

function ldmFrom(checkpoint: LoadedCheckpoint): LoadedLdm {
  const config = stageConfig(checkpoint, 'ldm');
  const ldm = config.ldm!;
  const unet = new DiffusionModelUNet(ldm.network as unknown as DiffusionUNetConfig);
  try {
    unet.loadStateDict(checkpoint.model, { source: modelFile(checkpoint) });
    if (!checkpoint.context) throw new Error(`${checkpoint.dir}: LDM checkpoint has no context.safetensors (prompt / null embeddings)`);
    const context = ConditioningContext.fromStateDict(checkpoint.context, {
      trainable: false,
      source: join(checkpoint.dir, 'context.safetensors'),
      expectDim: unet.config.crossAttentionDim,
    });
    const recorded = recordedLatentScale(checkpoint);
    const [latentScale, latentScaleFrom]: [number, LatentScaleSource] =
      recorded !== null ? [recorded, 'checkpoint'] : typeof ldm.latentScale === 'number' ? [ldm.latentScale, 'config'] : [DEFAULT_LATENT_SCALE, 'default'];
    return {
      unet,
      context,
      latentScale,
      latentScaleFrom,
      checkpoint,
      config,
      dispose() {
        unet.dispose();
        context.dispose();
      },
    };
  } catch (err) {
    unet.dispose();
    throw err;
  }
}

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
  /** Recorded with every sampling result, so a run that fell back to the default says so. */
  latentScaleFrom: LatentScaleSource;
  scheduler: SchedulerParams;
  /** The run's default ControlNet conditioning scale for sampling (its sampling scale, else its training scale; reference 1). */
  conditioningScale: number;
  /**
   * Whether grid outputs are zeroed outside the FLAIR's brain by default (src/ml/sample/brain-mask.ts):
   * the run's sampling setting; false without a ControlNet (nothing to take a brain from).
   */
  brainMask: boolean;
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

function checkImageSize(size: unknown, where: string): [number, number] {
  const s = size as [number, number];
  if (!Array.isArray(s) || s.length !== 2 || SLICE_HEIGHT % s[0] !== 0 || SLICE_WIDTH % s[1] !== 0) {
    throw new Error(`${where}: imageSize ${JSON.stringify(size)} must divide ${SLICE_HEIGHT}x${SLICE_WIDTH} by whole factors`);
  }
  return [s[0], s[1]];
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
  // Every config is checked before any network is built, so a wrong folder fails fast.
  const aeCfg = stageConfig(aeCkpt, 'autoencoder');
  stageConfig(ldmCkpt, 'ldm');
  const cnCfg = cnCkpt ? stageConfig(cnCkpt, 'controlnet') : null;

  const { ae } = autoencoderFrom(aeCkpt);
  let ldm: LoadedLdm | null = null;
  let controlnet: ControlNet | null = null;
  let context: ConditioningContext | null = null;
  try {
    ldm = ldmFrom(ldmCkpt);
    const ldmCfg = ldm.config;
    context = ldm.context;
    if (cnCkpt && cnCfg) {
      controlnet = new ControlNet(cnCfg.controlnet!.network as unknown as ControlNetConfig);
      controlnet.loadStateDict(cnCkpt.model, { source: modelFile(cnCkpt) });
      // The ControlNet run stores the (frozen) context it trained with; it equals the LDM's.
      if (cnCkpt.context) {
        const cnContext = ConditioningContext.fromStateDict(cnCkpt.context, {
          trainable: false,
          source: join(cnCkpt.dir, 'context.safetensors'),
          expectDim: ldm.unet.config.crossAttentionDim,
        });
        context.dispose();
        context = cnContext;
      }
    }
    const cnScale = cnCkpt && recordedLatentScale(cnCkpt);
    const latentScale = cnScale ?? ldm.latentScale;
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
      latentScaleFrom: cnScale ? 'checkpoint' : ldm.latentScaleFrom,
      scheduler: { ...(stage.scheduler ?? ldmCfg.ldm!.scheduler) },
      // A run samples at its sampling scale; runs recorded before it existed at their training scale.
      conditioningScale: cnCfg?.controlnet?.sampleConditioningScale ?? cnCfg?.controlnet?.conditioningScale ?? 1,
      // Runs recorded before the setting existed: masked when they trained with the desktop preset.
      brainMask: cnCfg ? (cnCfg.controlnet?.sampleBrainMask ?? cnCfg.preset === 'desktop') : false,
      guidanceScale: stage.guidanceScale ?? 7,
      checkpoints: { controlnet: cnCkpt?.dir ?? null, ldm: ldmCkpt.dir, autoencoder: aeCkpt.dir },
      steps: { controlnet: cnCkpt?.meta.step ?? null, ldm: ldmCkpt.meta.step, autoencoder: aeCkpt.meta.step },
      contextSource: context.source,
    };
    const unet = ldm.unet;
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
    ldm?.unet.dispose();
    controlnet?.dispose();
    context?.dispose();
    throw err;
  }
}

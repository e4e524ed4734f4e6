import * as tf from '@tensorflow/tfjs';
import type { StateDict } from '../io';
import { mseLoss } from '../losses/basic';
import type { AutoencoderKL } from '../networks/autoencoder-kl';
import { ControlNet, type ControlNetConfig } from '../networks/controlnet';
import type { DiffusionModelUNet } from '../networks/diffusion-unet';
import type { NoiseSchedule } from '../schedulers';
import type { Rng } from '../util/rng';
import { splitBatch } from '../io/png';
import { maskToConditionBrain } from '../sample/brain-mask';
import {
  batchOf,
  controlledForward,
  decodeLatents,
  encodeLatents,
  guidedLatentSample,
  latentShape,
  loadAutoencoder,
  loadLdm,
  seedRange,
  type ConditioningContext,
  type LoadedCheckpoint,
} from '../pipeline';
import { augmentTable } from './augment';
import type { ControlNetStageConfig, TrainConfig } from './config';
import { makeBatch, spreadIndices, type TrainingData } from './data';
import { diffusionValidationLoss, disposeNoised, noiseLatents, noiseSchedule } from './diffusion-common';
import { averaged, TRAINED_PREFIX, WeightAverage } from './ema';
import { adamw, namedGrads, type Adam } from './optim';
import { allFinite, disposeNamed, namedParams, optimizerFromStateDict, optimizerToStateDict, readImages, readScalars } from './runtime-util';
import type { StageRuntime, ValidationResult } from './session';

/**
 * Stage 3, the ControlNet: a ControlNet initialised from the parent LDM's UNet
 * (load_state_dict(unet, strict=False): encoder copied, zero convs and conditioning embedding
 * kept), UNet, autoencoder and context frozen, the FLAIR slice as condition, v-prediction MSE on
 * the controlled UNet's output, AdamW. Figures: FLAIR | generated | real T1w.
 */
export class ControlNetRuntime implements StageRuntime {
  readonly stage = 'controlnet' as const;
  private readonly opt: Adam;
  private readonly sched: NoiseSchedule;
  /** The weights validation, figures and checkpoints use when the config asks for an average. */
  private readonly avg: WeightAverage | null;

  private constructor(
    private readonly cfg: ControlNetStageConfig,
    private readonly train: TrainConfig,
    private readonly data: TrainingData,
    private readonly ae: AutoencoderKL,
    private readonly unet: DiffusionModelUNet,
    readonly controlnet: ControlNet,
    private readonly context: ConditioningContext,
    private readonly latentScale: number,
  ) {
    const params = namedParams(controlnet);
    this.opt = adamw(params, { lr: cfg.lr, weightDecay: cfg.weightDecay });
    this.avg = cfg.emaDecay ? new WeightAverage(params, cfg.emaDecay) : null;
    this.sched = noiseSchedule(cfg.scheduler);
  }

  static async create(train: TrainConfig, data: TrainingData, parents: { autoencoder?: string; ldm?: string }): Promise<ControlNetRuntime> {
    const cfg = train.controlnet;
    if (!cfg) throw new Error('controlnet config section missing');
    if (!parents.ldm || !parents.autoencoder) throw new Error('the ControlNet stage needs an LDM run (and its autoencoder)');
    const ldm = loadLdm(parents.ldm);
    let ae: AutoencoderKL | null = null;
    let controlnet: ControlNet | null = null;
    try {
      ae = loadAutoencoder(parents.autoencoder).ae;
      controlnet = new ControlNet(cfg.network as unknown as ControlNetConfig).initialize(train.loop.seed);
      // The reference's strict=False copy: every UNet tensor whose name exists in the ControlNet.
      const { model, dir } = ldm.checkpoint;
      controlnet.loadStateDict(model, { strict: false, source: `${dir}/model.safetensors (UNet -> ControlNet copy)` });
      return new ControlNetRuntime(cfg, train, data, ae, ldm.unet, controlnet, ldm.context, ldm.latentScale);
    } catch (err) {
      [ldm, ae, controlnet].forEach((x) => x?.dispose());
      throw err;
    }
  }

  private controlled(xt: tf.Tensor4D, timesteps: tf.Tensor1D, ctx: tf.Tensor3D, flair: tf.Tensor4D, scale = this.cfg.conditioningScale): tf.Tensor4D {
    return controlledForward({ unet: this.unet, controlnet: this.controlnet }, xt, timesteps, ctx, flair, scale);
  }

  async trainStep(indices: number[], _epoch: number, _step: number, rng: Rng): Promise<Record<string, number>> {
    const batch = makeBatch(this.data.train, indices, augmentTable(this.train.augment, 'controlnet'), rng);
    const latent = encodeLatents(this.ae, batch.t1w, this.latentScale, rng);
    const noised = noiseLatents(this.sched, this.cfg.scheduler, latent, rng);
    const dropped = indices.map(() => rng.bernoulli(this.cfg.promptDropout));
    const ctx = this.context.batch(dropped);
    const { value, grads } = namedGrads(
      () => mseLoss(this.controlled(noised.xt, noised.timesteps, ctx, batch.flair), noised.target),
      namedParams(this.controlnet),
    );
    try {
      const scalars = await readScalars({ loss: value });
      if (allFinite(scalars)) {
        this.opt.apply(grads);
        this.avg?.update();
      }
      return scalars;
    } finally {
      disposeNamed(grads);
      disposeNoised(noised);
      [batch.t1w, batch.flair, latent, ctx].forEach((t) => t.dispose());
    }
  }

  validate(_epoch: number, rng: Rng): Promise<ValidationResult> {
    return averaged(this.avg, () => this.validationLoss(rng));
  }

  private validationLoss(rng: Rng): Promise<ValidationResult> {
    return diffusionValidationLoss({
      set: this.data.validation,
      batchSize: this.train.loop.batchSize,
      maxBatches: this.train.loop.maxValBatches,
      ae: this.ae,
      latentScale: this.latentScale,
      sched: this.sched,
      scheduler: this.cfg.scheduler,
      rng,
      predict: (xt, timesteps, count, flair) => this.controlled(xt, timesteps, this.context.repeat('prompt', count), flair),
    });
  }

  figures(_epoch: number, rng: Rng) {
    return averaged(this.avg, () => this.sampleFigures(rng));
  }

  /** One row per validation pair: FLAIR | generated T1w | real T1w (guided DDIM, as the product samples). */
  private async sampleFigures(rng: Rng) {
    const set = this.data.validation.count > 0 ? this.data.validation : this.data.train;
    const k = Math.min(this.cfg.figureExamples, set.count);
    if (k <= 0) return null;
    const { height: h, width: w } = set;
    const batch = makeBatch(set, spreadIndices(set.count, k), null, null);
    const flairs = batchOf(batch.flair, this.cfg.guidanceScale);
    // Drawn as the run will be sampled: at its sampling conditioning scale.
    const scale = this.cfg.sampleConditioningScale ?? this.cfg.conditioningScale;
    const denoise = (xt: tf.Tensor4D, t: number, ctx: tf.Tensor3D) =>
      tf.tidy(() => this.controlled(xt, tf.fill([xt.shape[0]], t, 'int32') as tf.Tensor1D, ctx, flairs.at(xt.shape[0]), scale));
    const cond = this.context.repeat('prompt', k);
    const uncond = this.context.repeat('null', k);
    const z = await guidedLatentSample(denoise, {
      scheduler: this.cfg.scheduler,
      steps: this.cfg.sampleSteps,
      shape: latentShape(this.ae, k, h, w),
      cond,
      uncond,
      guidanceScale: this.cfg.guidanceScale,
      seeds: seedRange(rng.nextUint32() >>> 1, k),
    });
    const img = decodeLatents(this.ae, z, this.latentScale);
    const flair = splitBatch(await readImages(batch.flair), k, h, w);
    const generated = splitBatch(await readImages(img), k, h, w);
    // Masked as the run will sample (at the model's size here, on its box-averaged FLAIR).
    if (this.cfg.sampleBrainMask === true) generated.forEach((g, i) => maskToConditionBrain(g.data, flair[i]!.data, 1, h, w));
    const real = splitBatch(await readImages(batch.t1w), k, h, w);
    flairs.dispose();
    [batch.t1w, batch.flair, cond, uncond, z, img].forEach((t) => t.dispose());
    return { name: 'flair-generated-real', rows: flair.map((f, i) => [f, generated[i]!, real[i]!]), columns: ['FLAIR (condition)', 'generated T1w', 'real T1w'] };
  }

  /** With an average, the model file holds it and the state the trained weights. */
  async checkpointPayload(): Promise<{ model: StateDict; state: StateDict; context: StateDict }> {
    const state: StateDict = new Map();
    await optimizerToStateDict(this.opt, 'optimizer', state);
    state.set('latent_scale', { shape: [1], data: Float32Array.of(this.latentScale) });
    return averaged(this.avg, async () => {
      await this.avg?.trainedToStateDict(TRAINED_PREFIX, state);
      return { model: await this.controlnet.stateDict(), state, context: await this.context.stateDict() };
    });
  }

  setLrFactor(factor: number): void {
    this.opt.lr = this.cfg.lr * factor;
  }

  restore(ckpt: LoadedCheckpoint): void {
    this.controlnet.loadStateDict(ckpt.model, { source: `${ckpt.dir}/model.safetensors` });
    this.avg?.restore(ckpt.state, TRAINED_PREFIX);
    optimizerFromStateDict(this.opt, ckpt.state, 'optimizer');
  }

  dispose(): void {
    this.avg?.dispose();
    this.opt.dispose();
    this.controlnet.dispose();
    this.unet.dispose();
    this.ae.dispose();
    this.context.dispose();
  }
}

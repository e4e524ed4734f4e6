import * as tf from '@tensorflow/tfjs';
import type { StateDict } from '../io';
import { mseLoss } from '../losses/basic';
import type { AutoencoderKL } from '../networks/autoencoder-kl';
import { DiffusionModelUNet, type DiffusionUNetConfig } from '../networks/diffusion-unet';
import type { NoiseSchedule } from '../schedulers';
import { Rng } from '../util/rng';
import { splitBatch } from '../io/png';
import {
  ConditioningContext,
  decodeLatents,
  encodeLatents,
  guidedLatentSample,
  latentShape,
  loadAutoencoder,
  seedRange,
  type LoadedCheckpoint,
} from '../pipeline';
import { augmentTable } from './augment';
import type { LdmStageConfig, TrainConfig } from './config';
import { makeBatch, type TrainingData } from './data';
import { computeLatentScale, diffusionValidationLoss, disposeNoised, noiseLatents, noiseSchedule } from './diffusion-common';
import { averaged, TRAINED_PREFIX, WeightAverage } from './ema';
import { adamw, namedGrads, type Adam } from './optim';
import { allFinite, disposeNamed, namedParams, optimizerFromStateDict, optimizerToStateDict, readImages, readScalars } from './runtime-util';
import type { StageRuntime, ValidationResult } from './session';

/**
 * Stage 2, the latent diffusion model: a DiffusionModelUNet on latents of the frozen parent
 * autoencoder (latent = scale * sampled z), v-prediction MSE, AdamW (weight decay 0.01), prompt
 * dropout swapping in the null context. New runs learn the prompt/null context with the UNet;
 * a precomputed context file keeps it fixed.
 */
export class LdmRuntime implements StageRuntime {
  readonly stage = 'ldm' as const;
  private readonly opt: Adam;
  private readonly sched: NoiseSchedule;
  /** The weights validation, figures and checkpoints use when the config asks for an average. */
  private readonly avg: WeightAverage | null;

  private constructor(
    private readonly cfg: LdmStageConfig,
    private readonly train: TrainConfig,
    private readonly data: TrainingData,
    private readonly ae: AutoencoderKL,
    readonly unet: DiffusionModelUNet,
    readonly context: ConditioningContext,
    private latentScale: number,
  ) {
    const params = { ...namedParams(unet), ...context.params() };
    this.opt = adamw(params, { lr: cfg.lr, weightDecay: cfg.weightDecay });
    this.avg = cfg.emaDecay ? new WeightAverage(params, cfg.emaDecay) : null;
    this.sched = noiseSchedule(cfg.scheduler);
  }

  static async create(train: TrainConfig, data: TrainingData, parents: { autoencoder?: string }): Promise<LdmRuntime> {
    const cfg = train.ldm;
    if (!cfg) throw new Error('ldm config section missing');
    if (!parents.autoencoder) throw new Error('the LDM stage needs an autoencoder run');
    const { ae } = loadAutoencoder(parents.autoencoder);
    const unetCfg = cfg.network as unknown as DiffusionUNetConfig;
    const unet = new DiffusionModelUNet(unetCfg).initialize(train.loop.seed);
    const dim = Number(unetCfg.cross_attention_dim);
    const context = cfg.contextFile
      ? ConditioningContext.fromFile(cfg.contextFile, dim)
      : ConditioningContext.learned(cfg.contextTokens, dim, Rng.fromSeed(train.loop.seed + 3));
    const scale =
      cfg.latentScale === 'auto'
        ? await computeLatentScale(ae, data.train, train.loop.batchSize, train.loop.seed, (s) => Rng.fromSeed(s))
        : cfg.latentScale;
    return new LdmRuntime(cfg, train, data, ae, unet, context, scale);
  }

  get scale(): number {
    return this.latentScale;
  }

  async trainStep(indices: number[], _epoch: number, _step: number, rng: Rng): Promise<Record<string, number>> {
    const batch = makeBatch(this.data.train, indices, augmentTable(this.train.augment, 'ldm'), rng);
    const latent = encodeLatents(this.ae, batch.t1w, this.latentScale, rng);
    const noised = noiseLatents(this.sched, this.cfg.scheduler, latent, rng);
    const dropped = indices.map(() => rng.bernoulli(this.cfg.promptDropout));
    const params = { ...namedParams(this.unet), ...this.context.params() };
    const { value, grads } = namedGrads(() => {
      const ctx = this.context.batch(dropped);
      return mseLoss(this.unet.forward(noised.xt, noised.timesteps, ctx), noised.target);
    }, params);
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
      [batch.t1w, batch.flair, latent].forEach((t) => t.dispose());
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
      predict: (xt, timesteps, count) => this.unet.forward(xt, timesteps, this.context.repeat('prompt', count)),
    });
  }

  figures(_epoch: number, rng: Rng) {
    return averaged(this.avg, () => this.sampleFigures(rng));
  }

  /** Row 1: unconditional samples (null context, no guidance); row 2: prompt with guidance. */
  private async sampleFigures(rng: Rng) {
    const k = this.cfg.figureExamples;
    if (k <= 0) return null;
    const { height: h, width: w } = this.data.train;
    const shape = latentShape(this.ae, k, h, w);
    const denoise = (xt: tf.Tensor4D, t: number, ctx: tf.Tensor3D) =>
      tf.tidy(() => this.unet.forward(xt, tf.fill([xt.shape[0]], t, 'int32') as tf.Tensor1D, ctx));
    const rows = [];
    for (const guided of [false, true]) {
      const cond = this.context.repeat(guided ? 'prompt' : 'null', k);
      const uncond = guided ? this.context.repeat('null', k) : null;
      // The unguided row passes the null context as cond with scale 1, so only that branch runs.
      const z = await guidedLatentSample(denoise, {
        scheduler: this.cfg.scheduler,
        steps: this.cfg.sampleSteps,
        shape,
        cond,
        uncond: uncond ?? cond,
        guidanceScale: guided ? this.cfg.guidanceScale : 1,
        seeds: seedRange(rng.nextUint32() >>> 1, k),
      });
      const img = decodeLatents(this.ae, z, this.latentScale);
      rows.push(splitBatch(await readImages(img), k, h, w));
      [cond, z, img].forEach((t) => t.dispose());
      uncond?.dispose();
    }
    return { name: 'samples', rows, columns: Array.from({ length: k }, (_, i) => `sample ${i + 1}`) };
  }

  /** With an average, the model and context files hold it and the state the trained weights. */
  async checkpointPayload(): Promise<{ model: StateDict; state: StateDict; context: StateDict }> {
    const state: StateDict = new Map();
    await optimizerToStateDict(this.opt, 'optimizer', state);
    state.set('latent_scale', { shape: [1], data: Float32Array.of(this.latentScale) });
    return averaged(this.avg, async () => {
      await this.avg?.trainedToStateDict(TRAINED_PREFIX, state);
      return { model: await this.unet.stateDict(), state, context: await this.context.stateDict() };
    });
  }

  setLrFactor(factor: number): void {
    this.opt.lr = this.cfg.lr * factor;
  }

  restore(ckpt: LoadedCheckpoint): void {
    this.unet.loadStateDict(ckpt.model, { source: `${ckpt.dir}/model.safetensors` });
    if (!ckpt.context) throw new Error(`${ckpt.dir}: LDM checkpoint without context.safetensors`);
    const saved = ConditioningContext.fromStateDict(ckpt.context, { trainable: this.context.trainable, source: `${ckpt.dir}/context.safetensors` });
    this.context.prompt.assign(saved.prompt);
    this.context.nullEmbedding.assign(saved.nullEmbedding);
    saved.dispose();
    const scale = ckpt.state.get('latent_scale');
    if (scale) this.latentScale = scale.data[0]!;
    this.avg?.restore(ckpt.state, TRAINED_PREFIX);
    optimizerFromStateDict(this.opt, ckpt.state, 'optimizer');
  }

  dispose(): void {
    this.avg?.dispose();
    this.opt.dispose();
    this.unet.dispose();
    this.ae.dispose();
    this.context.dispose();
  }
}

import * as tf from '@tensorflow/tfjs';
import type { StateDict } from '../io';
import { klLoss, l1Loss, lsganDiscriminatorLoss, lsganGeneratorLoss } from '../losses/basic';
import { LayersFeatureNetwork, perceptualDistance, type FeatureNetwork } from '../losses/perceptual';
import { AutoencoderKL, type AutoencoderKLConfig } from '../networks/autoencoder-kl';
import { PatchDiscriminator, type PatchDiscriminatorConfig } from '../networks/patch-discriminator';
import type { Rng } from '../util/rng';
import { augmentTable } from './augment';
import { subDict, withPrefix, type LoadedCheckpoint } from '../pipeline/checkpoint';
import type { AutoencoderStageConfig, TrainConfig } from './config';
import { makeBatch, spreadIndices, validationBatches, type TrainingData } from './data';
import { splitBatch } from '../io/png';
import { adam, clipByGlobalNorm, namedGrads, type Adam, type NamedTensors } from './optim';
import {
  allFinite,
  disposeNamed,
  namedParams,
  normalTensor,
  optimizerFromStateDict,
  optimizerToStateDict,
  readImages,
  readScalars,
} from './runtime-util';
import type { StageRuntime, ValidationResult } from './session';

/**
 * Stage 1, the autoencoder: AutoencoderKL with L1 + KL + perceptual + least-squares
 * adversarial loss against a PatchDiscriminator (from advStartEpoch), Adam for both networks,
 * gradients clipped to norm 1.0. Metric names follow the reference's TensorBoard tags.
 */
export class AutoencoderRuntime implements StageRuntime {
  readonly stage = 'autoencoder' as const;
  private readonly optG: Adam;
  private readonly optD: Adam;

  private constructor(
    private readonly cfg: AutoencoderStageConfig,
    private readonly train: TrainConfig,
    private readonly data: TrainingData,
    readonly ae: AutoencoderKL,
    private readonly disc: PatchDiscriminator,
    private readonly perceptual: FeatureNetwork | null,
  ) {
    this.optG = adam(namedParams(ae), { lr: cfg.lr });
    this.optD = adam(namedParams(disc), { lr: cfg.discLr });
  }

  static async create(train: TrainConfig, data: TrainingData): Promise<AutoencoderRuntime> {
    const cfg = train.autoencoder;
    if (!cfg) throw new Error('autoencoder config section missing');
    const ae = new AutoencoderKL(cfg.network as unknown as AutoencoderKLConfig).initialize(train.loop.seed);
    const disc = new PatchDiscriminator(cfg.discriminator as unknown as PatchDiscriminatorConfig).initialize(train.loop.seed + 1);
    const perceptual =
      cfg.perceptualWeight > 0 && cfg.perceptualNetwork ? await LayersFeatureNetwork.load(cfg.perceptualNetwork) : null;
    return new AutoencoderRuntime(cfg, train, data, ae, disc, perceptual);
  }

  /** Which feature network the perceptual term used (recorded with the run), or null for weight 0. */
  get perceptualInfo() {
    return this.perceptual?.info ?? null;
  }

  private latentShape(batch: number, h: number, w: number): number[] {
    const f = this.ae.downsampleFactor;
    return [batch, h / f, w / f, this.ae.config.latentChannels];
  }

  private discLogits(x: tf.Tensor4D): tf.Tensor4D {
    const outs = this.disc.forward(x, { training: true });
    return outs[outs.length - 1]!;
  }

  async trainStep(indices: number[], epoch: number, _step: number, rng: Rng): Promise<Record<string, number>> {
    const cfg = this.cfg;
    const set = this.data.train;
    const batch = makeBatch(set, indices, augmentTable(this.train.augment, 'autoencoder'), rng);
    const x = batch.t1w;
    batch.flair.dispose();
    const eps = normalTensor(rng, this.latentShape(indices.length, set.height, set.width)) as tf.Tensor4D;
    const adv = epoch >= cfg.advStartEpoch;
    const parts: Record<string, tf.Tensor> = {};
    const kept: { recon?: tf.Tensor4D } = {};
    const gParams = namedParams(this.ae);
    const { value, grads } = namedGrads(() => {
      const out = this.ae.forward(x, eps);
      kept.recon = tf.keep(out.reconstruction);
      const l1 = l1Loss(out.reconstruction, x);
      const kl = klLoss(out.mu, out.sigma);
      let loss: tf.Scalar = tf.add(l1, tf.mul(kl, cfg.klWeight));
      parts.l1_loss = tf.keep(l1);
      parts.kl_loss = tf.keep(kl);
      if (this.perceptual) {
        const p = perceptualDistance(this.perceptual, out.reconstruction, x);
        parts.p_loss = tf.keep(p);
        loss = tf.add(loss, tf.mul(p, cfg.perceptualWeight));
      }
      if (adv) {
        const g = lsganGeneratorLoss(this.discLogits(out.reconstruction));
        parts.g_loss = tf.keep(g);
        loss = tf.add(loss, tf.mul(g, cfg.advWeight));
      }
      return loss;
    }, gParams);
    const clipped = clipByGlobalNorm(grads, cfg.gradClip);
    disposeNamed(grads);
    const scalars = await readScalars({ loss: value, ...parts, grad_norm_g: clipped.norm });
    let dGrads: NamedTensors | null = null;
    try {
      if (!allFinite(scalars)) return scalars;
      this.optG.apply(clipped.grads);
      if (adv) {
        const fake = kept.recon!;
        const d = namedGrads(
          () => tf.mul(lsganDiscriminatorLoss(this.discLogits(fake), this.discLogits(x)), cfg.advWeight) as tf.Scalar,
          namedParams(this.disc),
        );
        const dClipped = clipByGlobalNorm(d.grads, cfg.gradClip);
        disposeNamed(d.grads);
        dGrads = dClipped.grads;
        const dScalars = await readScalars({ d_loss: d.value, grad_norm_d: dClipped.norm });
        Object.assign(scalars, dScalars);
        if (allFinite(dScalars)) this.optD.apply(dGrads);
      }
      return scalars;
    } finally {
      disposeNamed(clipped.grads);
      if (dGrads) disposeNamed(dGrads);
      kept.recon?.dispose();
      x.dispose();
      eps.dispose();
    }
  }

  async validate(_epoch: number, rng: Rng): Promise<ValidationResult> {
    const set = this.data.validation;
    const sums: Record<string, number> = {};
    let n = 0;
    for (const idx of validationBatches(set.count, this.train.loop.batchSize, this.train.loop.maxValBatches)) {
      const batch = makeBatch(set, idx, null, null);
      const eps = normalTensor(rng, this.latentShape(idx.length, set.height, set.width)) as tf.Tensor4D;
      const parts = tf.tidy(() => {
        const out = this.ae.forward(batch.t1w, eps);
        const r: Record<string, tf.Tensor> = {
          l1_loss: l1Loss(out.reconstruction, batch.t1w),
          kl_loss: klLoss(out.mu, out.sigma),
        };
        if (this.perceptual) r.p_loss = perceptualDistance(this.perceptual, out.reconstruction, batch.t1w);
        return r;
      });
      const values = await readScalars(parts);
      for (const [k, v] of Object.entries(values)) sums[k] = (sums[k] ?? 0) + v * idx.length;
      n += idx.length;
      batch.t1w.dispose();
      batch.flair.dispose();
      eps.dispose();
    }
    if (n === 0) return { loss: NaN, metrics: {} };
    const metrics: Record<string, number> = {};
    for (const [k, v] of Object.entries(sums)) metrics[k] = v / n;
    return { loss: metrics.l1_loss!, metrics };
  }

  async figures(_epoch: number, rng: Rng) {
    const set = this.data.validation.count > 0 ? this.data.validation : this.data.train;
    const k = Math.min(3, set.count);
    if (k === 0) return null;
    const batch = makeBatch(set, spreadIndices(set.count, k), null, null);
    const eps = normalTensor(rng, this.latentShape(k, set.height, set.width)) as tf.Tensor4D;
    const recon = tf.tidy(() => tf.clipByValue(this.ae.forward(batch.t1w, eps).reconstruction, 0, 1));
    const inputs = splitBatch(await readImages(batch.t1w), k, set.height, set.width);
    const outputs = splitBatch(await readImages(recon), k, set.height, set.width);
    [batch.t1w, batch.flair, eps, recon].forEach((t) => t.dispose());
    return { name: 'reconstruction', rows: inputs.map((img, i) => [img, outputs[i]!]), columns: ['input T1w', 'reconstruction'] };
  }

  async checkpointPayload(): Promise<{ model: StateDict; state: StateDict }> {
    const state: StateDict = new Map();
    withPrefix(await this.disc.stateDict(), 'discriminator', state);
    await optimizerToStateDict(this.optG, 'optimizer_g', state);
    await optimizerToStateDict(this.optD, 'optimizer_d', state);
    return { model: await this.ae.stateDict(), state };
  }

  setLrFactor(factor: number): void {
    this.optG.lr = this.cfg.lr * factor;
    this.optD.lr = this.cfg.discLr * factor;
  }

  restore(ckpt: LoadedCheckpoint): void {
    this.ae.loadStateDict(ckpt.model, { source: `${ckpt.dir}/model.safetensors` });
    this.disc.loadStateDict(subDict(ckpt.state, 'discriminator'), { source: `${ckpt.dir}/state.safetensors (discriminator)` });
    optimizerFromStateDict(this.optG, ckpt.state, 'optimizer_g');
    optimizerFromStateDict(this.optD, ckpt.state, 'optimizer_d');
  }

  dispose(): void {
    this.optG.dispose();
    this.optD.dispose();
    this.ae.dispose();
    this.disc.dispose();
    this.perceptual?.dispose();
  }
}

import { existsSync } from 'node:fs';
import { readPreparedIndex } from '../data/prepare';
import { describeLayersModel } from '../losses/perceptual';
import { AutoencoderKL, type AutoencoderKLConfig } from '../networks/autoencoder-kl';
import { ControlNet, type ControlNetConfig } from '../networks/controlnet';
import { DiffusionModelUNet, type DiffusionUNetConfig } from '../networks/diffusion-unet';
import { PatchDiscriminator, type PatchDiscriminatorConfig } from '../networks/patch-discriminator';
import { desktopChildBudget } from './pipeline-budget';
import { networkPresets } from './presets';
import { scheduleProblems, scheduleSettings } from './schedule';
import {
  applyOverrides,
  AUGMENTATIONS,
  defaultLoop,
  defaultStageConfig,
  TRAIN_PRESETS,
  TRAIN_STAGES,
  type NetworkParams,
  type TrainConfig,
  type TrainPreset,
} from './config';
import type { TrainStage } from './session';
import { checkpointDir, readCheckpointMeta } from '../pipeline/checkpoint';

/**
 * Builds a stage's config from preset + parent + overrides, and refuses invalid ones before any
 * work starts (channel/group mismatches, missing or wrong-stage parents, incompatible shapes,
 * datasets without prepared slices), each with the reason.
 */

export interface ParentRunInfo {
  runId: number;
  stage: string;
  status: string;
  config: TrainConfig;
  hasCheckpoint: boolean;
  runDir: string;
  /** The parent's own parents' run folders (the autoencoder of an LDM parent). */
  parentDirs: { autoencoder?: string; ldm?: string };
}

export interface BuildRequest {
  stage: TrainStage;
  preset: TrainPreset;
  epochs?: number;
  seed?: number;
  overrides: string[];
  parent?: ParentRunInfo;
}

const REQUIRED_PARENT: Record<TrainStage, 'autoencoder' | 'ldm' | null> = { autoencoder: null, ldm: 'autoencoder', controlnet: 'ldm' };

function fail(msg: string): never {
  throw new Error(msg);
}

/** The autoencoder config behind a parent (the parent itself, or an LDM's autoencoder). */
function parentAutoencoder(parent: ParentRunInfo): TrainConfig | null {
  if (parent.stage === 'autoencoder') return parent.config;
  const dir = parent.parentDirs.autoencoder && checkpointDir(parent.parentDirs.autoencoder, 'last');
  if (!dir) return null;
  return readCheckpointMeta(dir).config as unknown as TrainConfig;
}

function checkParent(stage: TrainStage, parent: ParentRunInfo | undefined): void {
  const need = REQUIRED_PARENT[stage];
  if (!need) {
    if (parent) fail(`the autoencoder stage takes no parent run (got run ${parent.runId})`);
    return;
  }
  if (!parent) fail(`the ${stage} stage needs a parent ${need} run (--parent RUN)`);
  if (parent.stage !== need) fail(`parent run ${parent.runId} is a ${parent.stage} run; the ${stage} stage needs a ${need} run`);
  if (parent.status === 'running' || parent.status === 'queued') fail(`parent run ${parent.runId} is still ${parent.status}; wait for it to finish`);
  if (!parent.hasCheckpoint) fail(`parent run ${parent.runId} has no checkpoint (it never finished an epoch or checkpoint interval)`);
  if (!parent.config || parent.config.stage !== need) fail(`parent run ${parent.runId} has no ${need} training config`);
  // A child trains at its parent's size; a run registered by hand may record no size to inherit.
  const size = parent.config.imageSize as unknown;
  if (!Array.isArray(size) || size.length !== 2) fail(`parent run ${parent.runId} records no imageSize in its training config, so its size cannot be inherited`);
}

export function buildTrainConfig(req: BuildRequest): TrainConfig {
  if (!TRAIN_STAGES.includes(req.stage)) fail(`unknown stage '${req.stage}' (expected ${TRAIN_STAGES.join(', ')})`);
  if (!TRAIN_PRESETS.includes(req.preset)) fail(`unknown preset '${req.preset}' (expected ${TRAIN_PRESETS.join(', ')})`);
  checkParent(req.stage, req.parent);
  const nets = networkPresets(req.preset);
  const loop = defaultLoop(req.stage, req.preset);
  if (req.epochs !== undefined) loop.epochs = req.epochs;
  if (req.seed !== undefined) loop.seed = req.seed;
  // A desktop child: the minutes its parents left of the 60-minute pipeline (see pipeline-budget.ts).
  const childBudget = desktopChildBudget(req);
  if (childBudget) loop.budgetMinutes = childBudget.minutes;
  const imageSize: [number, number] = req.parent ? [...req.parent.config.imageSize] : req.preset === 'reference' ? [160, 224] : [80, 112];
  const config: TrainConfig = {
    stage: req.stage,
    preset: req.preset,
    imageSize,
    // Both presets train with the reference's tables. Measured on open MS (one training subject),
    // the anatomy tables fitted the training subject less and left the test subject where it was:
    // LDM + ControlNet 18.89 vs 19.03 dB with one sample (train subject 20.32 vs 21.19), the
    // autoencoder 22.14 vs 22.14 dB (train 23.84 vs 24.08).
    augment: 'reference',
    loop,
    ...defaultStageConfig(req.stage, req.preset, nets),
  };
  if (req.stage === 'ldm' && config.ldm) {
    const ae = req.parent!.config.autoencoder!.network as { latent_channels?: number };
    config.ldm.network = { ...config.ldm.network, in_channels: ae.latent_channels, out_channels: ae.latent_channels };
  }
  if (req.stage === 'controlnet' && config.controlnet) {
    // The ControlNet mirrors its LDM's UNet (minus the decoder), as the reference's config does.
    const unet = { ...(req.parent!.config.ldm!.network as NetworkParams) };
    delete unet.out_channels;
    const cond = config.controlnet.network;
    config.controlnet.network = {
      ...unet,
      conditioning_embedding_in_channels: cond.conditioning_embedding_in_channels ?? 1,
      conditioning_embedding_num_channels: cond.conditioning_embedding_num_channels,
    };
    config.controlnet.scheduler = { ...req.parent!.config.ldm!.scheduler };
  }
  return applyOverrides(config, req.overrides);
}

/**
 * Records which perceptual network a run uses (name + sha256 of its files). Without one the
 * perceptual weight is 0 — a valid, documented choice (the reference's LPIPS weights are not
 * available) — and the config says so instead of showing the reference's 0.002.
 */
export async function resolvePerceptual(config: TrainConfig): Promise<TrainConfig> {
  const a = config.autoencoder;
  if (config.stage !== 'autoencoder' || !a) return config;
  if (a.perceptualNetwork === null || a.perceptualWeight === 0) {
    a.perceptual = {
      name: null,
      reason: a.perceptualNetwork === null ? 'no feature network given (autoencoder.perceptualNetwork); perceptual weight 0' : 'perceptual weight set to 0',
    };
    a.perceptualWeight = 0;
    return config;
  }
  if (!existsSync(a.perceptualNetwork)) fail(`autoencoder.perceptualNetwork: ${a.perceptualNetwork} does not exist (point at a TF.js model.json, or set perceptualWeight=0)`);
  a.perceptual = await describeLayersModel(a.perceptualNetwork);
  return config;
}

export interface ValidateContext {
  parent?: ParentRunInfo;
  /** Prepared-slice cache folder of the chosen dataset (checked for slices). */
  datasetDir?: string;
}

/**
 * Upper bounds for loop fields. The form and the API cap them too; these hold for every way a
 * config arrives (CLI --set, stored configs), so an override such as epochs=1e308 is refused
 * instead of training "forever" or overflowing step counters.
 */
export const LOOP_LIMITS = {
  epochs: 100_000,
  batchSize: 4096,
  checkpointEvery: 1_000_000,
  valEvery: 100_000,
  maxStepsPerEpoch: 10_000_000,
  maxValBatches: 1_000_000,
} as const;

function posInt(v: unknown, key: string, min = 1, max = Number.MAX_SAFE_INTEGER): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(`${key} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  if (v > max) fail(`${key} must be at most ${max}, got ${v}`);
}

function finite(v: unknown, key: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(`${key} must be a finite number, got ${JSON.stringify(v)}`);
}

function posNum(v: unknown, key: string, allowZero = false): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
    fail(`${key} must be a ${allowZero ? 'non-negative' : 'positive'} number, got ${JSON.stringify(v)}`);
  }
}

function fraction(v: unknown, key: string): void {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) fail(`${key} must be in [0, 1], got ${JSON.stringify(v)}`);
}

/** Constructs a network from its config without allocating weights, turning its error into ours. */
function construct<T extends { dispose(): void }>(what: string, make: () => T): T {
  try {
    return make();
  } catch (err) {
    return fail(`${what}: ${(err as Error).message}`);
  }
}

export function validateTrainConfig(config: TrainConfig, ctx: ValidateContext = {}): void {
  const { loop } = config;
  posInt(loop.epochs, 'loop.epochs', 1, LOOP_LIMITS.epochs);
  posInt(loop.batchSize, 'loop.batchSize', 1, LOOP_LIMITS.batchSize);
  if (!Number.isSafeInteger(loop.seed)) fail(`loop.seed must be a whole number within ±2^53, got ${JSON.stringify(loop.seed)}`);
  posInt(loop.checkpointEvery, 'loop.checkpointEvery', 0, LOOP_LIMITS.checkpointEvery);
  posInt(loop.valEvery, 'loop.valEvery', 0, LOOP_LIMITS.valEvery);
  posInt(loop.maxStepsPerEpoch, 'loop.maxStepsPerEpoch', 0, LOOP_LIMITS.maxStepsPerEpoch);
  posInt(loop.maxValBatches, 'loop.maxValBatches', 0, LOOP_LIMITS.maxValBatches);
  const scheduleProblem = scheduleProblems(scheduleSettings(loop))[0];
  if (scheduleProblem) fail(scheduleProblem);
  if (typeof config.augment !== 'boolean' && !AUGMENTATIONS.includes(config.augment)) {
    fail(`augment must be one of ${AUGMENTATIONS.join(', ')}, got ${JSON.stringify(config.augment)}`);
  }
  const [h, w] = config.imageSize ?? [];
  if (!h || !w || 160 % h !== 0 || 224 % w !== 0 || 160 / h !== 224 / w) {
    fail(`imageSize ${JSON.stringify(config.imageSize)} must be 160x224 divided by one whole factor (e.g. [80, 112])`);
  }
  if (ctx.parent && config.stage !== 'autoencoder') {
    const [ph, pw] = ctx.parent.config.imageSize;
    if (ph !== h || pw !== w) fail(`imageSize ${h}x${w} differs from the parent run's ${ph}x${pw}`);
  }
  if (ctx.datasetDir !== undefined) {
    let counts: Record<string, number>;
    try {
      counts = readPreparedIndex(ctx.datasetDir).index.counts;
    } catch (err) {
      return fail((err as Error).message);
    }
    if (!counts.train) fail(`${ctx.datasetDir}: the dataset has no training slices`);
  }

  if (config.stage === 'autoencoder') {
    const a = config.autoencoder ?? fail('config has no "autoencoder" section');
    const ae = construct('autoencoder.network', () => new AutoencoderKL(a.network as unknown as AutoencoderKLConfig));
    const f = ae.downsampleFactor;
    const c = ae.config;
    ae.dispose();
    if (c.inChannels !== 1 || c.outChannels !== 1) fail('autoencoder.network: in_channels and out_channels must be 1 (single-channel T1w slices)');
    if (h % f !== 0 || w % f !== 0) fail(`imageSize ${h}x${w} is not divisible by the autoencoder's downsampling factor ${f}`);
    construct('autoencoder.discriminator', () => new PatchDiscriminator(a.discriminator as unknown as PatchDiscriminatorConfig)).dispose();
    posNum(a.lr, 'autoencoder.lr');
    posNum(a.discLr, 'autoencoder.discLr');
    for (const k of ['klWeight', 'perceptualWeight', 'advWeight', 'gradClip'] as const) posNum(a[k], `autoencoder.${k}`, true);
    posInt(a.advStartEpoch, 'autoencoder.advStartEpoch', 0, LOOP_LIMITS.epochs);
    if (a.perceptualNetwork !== null && !existsSync(a.perceptualNetwork)) {
      fail(`autoencoder.perceptualNetwork: ${a.perceptualNetwork} does not exist (point at a TF.js model.json, or set perceptualWeight=0)`);
    }
    return;
  }

  const aeConfig = ctx.parent ? parentAutoencoder(ctx.parent) : null;
  const aeNet = aeConfig?.autoencoder ? new AutoencoderKL(aeConfig.autoencoder.network as unknown as AutoencoderKLConfig) : null;
  const factor = aeNet?.downsampleFactor ?? null;
  const latentChannels = aeNet?.config.latentChannels ?? null;
  aeNet?.dispose();
  if (ctx.parent && factor === null) fail(`parent run ${ctx.parent.runId}: its autoencoder checkpoint cannot be found`);
  const latent = factor ? [h / factor, w / factor] : null;

  const checkDiffusion = (section: 'ldm' | 'controlnet') => {
    const d = config[section] ?? fail(`config has no "${section}" section`);
    posNum(d.lr, `${section}.lr`);
    posNum(d.weightDecay, `${section}.weightDecay`, true);
    fraction(d.promptDropout, `${section}.promptDropout`);
    posInt(d.sampleSteps, `${section}.sampleSteps`);
    posInt(d.figureExamples, `${section}.figureExamples`, 0, 256);
    posInt(d.scheduler.numTrainTimesteps, `${section}.scheduler.numTrainTimesteps`, 1, 100_000);
    finite(d.guidanceScale, `${section}.guidanceScale`);
    if (d.emaDecay != null && !(d.emaDecay > 0 && d.emaDecay < 1)) fail(`${section}.emaDecay must be null or between 0 and 1 (e.g. 0.999), got ${d.emaDecay}`);
    if (d.sampleSteps > d.scheduler.numTrainTimesteps) fail(`${section}.sampleSteps ${d.sampleSteps} exceeds numTrainTimesteps`);
    const net = d.network as { num_channels?: number[]; with_conditioning?: boolean; cross_attention_dim?: number | null; in_channels?: number };
    if (net.with_conditioning !== true || !net.cross_attention_dim) {
      fail(`${section}.network: with_conditioning must be true with a cross_attention_dim (the context drives classifier-free guidance)`);
    }
    if (latentChannels !== null && net.in_channels !== latentChannels) {
      fail(`${section}.network.in_channels=${net.in_channels} does not match the autoencoder's latent_channels=${latentChannels}`);
    }
    const levels = net.num_channels?.length ?? 1;
    const down = 2 ** (levels - 1);
    if (latent && (latent[0]! % down !== 0 || latent[1]! % down !== 0)) {
      fail(`${section}.network: the ${latent[0]}x${latent[1]} latent cannot be halved ${levels - 1} times (num_channels has ${levels} levels)`);
    }
    return d;
  };

  if (config.stage === 'ldm') {
    checkDiffusion('ldm');
    const d = config.ldm!;
    if (d.network.out_channels !== d.network.in_channels) fail('ldm.network: out_channels must equal in_channels (it predicts latents)');
    construct('ldm.network', () => new DiffusionModelUNet(d.network as unknown as DiffusionUNetConfig)).dispose();
    if (d.latentScale !== 'auto') posNum(d.latentScale, 'ldm.latentScale');
    posInt(d.contextTokens, 'ldm.contextTokens', 1, 4096);
    if (d.contextFile !== null && !existsSync(d.contextFile)) fail(`ldm.contextFile: ${d.contextFile} does not exist`);
    return;
  }

  const d = checkDiffusion('controlnet');
  finite((d as { conditioningScale?: unknown }).conditioningScale, 'controlnet.conditioningScale');
  const sampleScale = (d as { sampleConditioningScale?: unknown }).sampleConditioningScale;
  if (sampleScale !== undefined) finite(sampleScale, 'controlnet.sampleConditioningScale');
  const sampleMask = (d as { sampleBrainMask?: unknown }).sampleBrainMask;
  if (sampleMask !== undefined && typeof sampleMask !== 'boolean') fail(`controlnet.sampleBrainMask must be true or false, got ${JSON.stringify(sampleMask)}`);
  const cn = d.network as { conditioning_embedding_num_channels?: number[] };
  construct('controlnet.network', () => new ControlNet(d.network as unknown as ControlNetConfig)).dispose();
  const condDown = 2 ** ((cn.conditioning_embedding_num_channels?.length ?? 1) - 1);
  if (factor !== null && condDown !== factor) {
    fail(
      `controlnet.network.conditioning_embedding_num_channels has ${cn.conditioning_embedding_num_channels?.length} entries ` +
        `(downsamples the FLAIR by ${condDown}) but the autoencoder downsamples by ${factor}; use ${Math.log2(factor) + 1} entries`,
    );
  }
  if (ctx.parent?.config.ldm) {
    const unet = ctx.parent.config.ldm.network;
    for (const [k, v] of Object.entries(unet)) {
      if (k === 'out_channels') continue;
      if (JSON.stringify(d.network[k]) !== JSON.stringify(v)) {
        fail(`controlnet.network.${k}=${JSON.stringify(d.network[k])} differs from the parent LDM's UNet (${JSON.stringify(v)}); the ControlNet copies the UNet's encoder`);
      }
    }
  }
}

import type { SchedulerParams } from '../schedulers';
import { FIXED_EPOCHS, LR_SCHEDULES } from './schedule';
import type { LoopConfig, TrainStage } from './session';

export type { SchedulerParams };

/**
 * Training configuration: plain JSON data, recorded with the run, reproducible with its seed.
 * Two presets: "reference" (the reference project's published hyper-parameters, on the full
 * 160x224 grid) and "desktop" (the same code paths with small networks on 80x112 slices, the
 * 160x224 cache downsampled by 2, so each stage trains in minutes on 2 CPU cores).
 * Network shapes come from the network presets (src/ml/networks) and can be overridden with
 * `--set key=value` like any other field.
 */

export type TrainPreset = 'desktop' | 'reference';
export const TRAIN_STAGES: readonly TrainStage[] = ['autoencoder', 'ldm', 'controlnet'];
export const TRAIN_PRESETS: readonly TrainPreset[] = ['desktop', 'reference'];

export type NetworkParams = Record<string, unknown>;

/**
 * Which training augmentation a run uses: none, the reference's mild tables, or the stronger
 * anatomy-varying one (rotation, scaling, smooth deformation) for training sets of few subjects.
 * Runs recorded before this setting existed hold a boolean: true is 'reference', false 'none'.
 */
export type Augmentation = 'none' | 'reference' | 'anatomy';
export const AUGMENTATIONS: readonly Augmentation[] = ['none', 'reference', 'anatomy'];

export interface AutoencoderStageConfig {
  network: NetworkParams;
  discriminator: NetworkParams;
  lr: number;
  discLr: number;
  klWeight: number;
  /** 0 is valid: no feature network is loaded and the loss is L1 + KL (+ adversarial). */
  perceptualWeight: number;
  /** TF.js layers model.json the user points at; null means perceptual weight 0 is used. */
  perceptualNetwork: string | null;
  /** Filled in when the run is created: which network the perceptual term used (or why none). */
  perceptual?: { name: string; sha256: string; source: string } | { name: null; reason: string };
  advWeight: number;
  /** 0-based epoch from which the adversarial terms and discriminator steps run. */
  advStartEpoch: number;
  gradClip: number;
}

export interface DiffusionStageConfig {
  network: NetworkParams;
  lr: number;
  weightDecay: number;
  promptDropout: number;
  scheduler: SchedulerParams;
  /** DDIM steps for the validation figures (the reference logs 1000-step DDPM samples). */
  sampleSteps: number;
  /** Classifier-free guidance for validation figures. */
  guidanceScale: number;
  /** Examples per validation figure. */
  figureExamples: number;
  /**
   * Decay of an exponential moving average of the trained weights, which validation, figures and
   * checkpoints then use (null: none, as the reference trains). Optional so older configs load.
   * Off in both presets: with the desktop schedule's learning rate falling to a tenth by the end,
   * the average added nothing on open MS (LDM + ControlNet at 0.999, 3-channel latent, test split:
   * 19.01 dB / MS-SSIM 0.885 against 19.03 / 0.886 without).
   */
  emaDecay?: number | null;
}

export interface LdmStageConfig extends DiffusionStageConfig {
  /** latent = scale * z; 'auto' computes 1/std of sampled z over 32 training slices spread through the split. */
  latentScale: number | 'auto';
  /** Learned context length (tokens); ignored with a context file. */
  contextTokens: number;
  /** Precomputed context (safetensors with prompt / null) for imported MONAI checkpoints. */
  contextFile: string | null;
}

export interface ControlNetStageConfig extends DiffusionStageConfig {
  /** Scale of the ControlNet's residuals while it trains. */
  conditioningScale: number;
  /**
   * Scale of the residuals when sampling: the validation figures, and the run's default in
   * Generate, volume translation and evaluation (each can still set its own). Runs recorded
   * before this setting existed sample at conditioningScale.
   */
  sampleConditioningScale?: number;
  /**
   * Whether the run's generated images are zeroed outside the FLAIR's brain by default (Generate,
   * volume translation, evaluation; each can still choose). Runs recorded before this setting
   * existed: on for the desktop preset.
   */
  sampleBrainMask?: boolean;
}

export interface TrainConfig {
  stage: TrainStage;
  preset: TrainPreset;
  /** [height, width] the slices are trained at (must divide 160x224 by whole factors). */
  imageSize: [number, number];
  augment: Augmentation | boolean;
  loop: LoopConfig;
  autoencoder?: AutoencoderStageConfig;
  ldm?: LdmStageConfig;
  controlnet?: ControlNetStageConfig;
}

export const REFERENCE_SCHEDULER: SchedulerParams = {
  numTrainTimesteps: 1000,
  schedule: 'scaled_linear_beta',
  betaStart: 0.0015,
  betaEnd: 0.0205,
  predictionType: 'v_prediction',
};

/**
 * The desktop pipeline's default wall-time budget per stage, 60 minutes in all on 2 cores. The
 * ControlNet gets the largest share: it trains last from zero-initialised outputs and is the stage
 * that limits the translation. The autoencoder gets 20 minutes because no later stage can beat its
 * reconstruction (its steps are the costliest: full-resolution convolutions and a discriminator);
 * the frozen LDM under the ControlNet gets 15 (on open MS a ControlNet on a 12-minute LDM came close
 * to one on a 20-minute LDM; numbers at the LDM's learning rate below). Validation and checkpoints count against the budget.
 * Minutes a parent leaves unused go to its children (pipeline-budget.ts).
 */
export const DESKTOP_BUDGET_MINUTES: Readonly<Record<TrainStage, number>> = { autoencoder: 20, ldm: 15, controlnet: 25 };

/** Config fields that take one of a few words, by dotted path, with the words (for forms). */
export const CONFIG_CHOICES: Readonly<Record<string, readonly string[]>> = {
  augment: AUGMENTATIONS,
  'loop.lrSchedule': LR_SCHEDULES,
};

/** The reference's loop settings per stage, with the per-process batch we can afford. */
export function defaultLoop(stage: TrainStage, preset: TrainPreset): LoopConfig {
  if (preset === 'reference') {
    // The published recipe: fixed epochs at a constant learning rate, no budget, no early stop.
    return {
      ...FIXED_EPOCHS,
      epochs: stage === 'autoencoder' ? 100 : 150,
      batchSize: stage === 'autoencoder' ? 256 : stage === 'ldm' ? 512 : 384,
      seed: 42,
      checkpointEvery: 500,
      valEvery: stage === 'autoencoder' ? 5 : 10,
      valAtStart: true,
      maxStepsPerEpoch: 0,
      maxValBatches: 0,
    };
  }
  // A desktop stage trains to its time budget (or a validation plateau); the epoch count is only
  // a cap. The learning rate warms up over the first 5% of the projected steps, then follows a
  // cosine down to a tenth of the configured rate where the budget ends.
  return {
    lrSchedule: 'warmup-cosine',
    warmupFraction: 0.05,
    minLrFraction: 0.1,
    budgetMinutes: DESKTOP_BUDGET_MINUTES[stage],
    budgetSteps: null,
    // A plateau is several validations in a row without a 1% gain. Only the autoencoder uses it:
    // the diffusion stages' validation loss (random timesteps and noise on 4 batches) is too noisy.
    // Measured on open MS: an LDM stopped at 13 of its 20 minutes (last 0.166 vs a lucky best
    // 0.122) and a ControlNet at 22 of 25 (0.128 vs 0.070) while their figures still improved.
    plateauPatience: stage === 'autoencoder' ? 6 : 0,
    plateauMinDelta: 0.01,
    epochs: 500,
    // Every desktop stage learns more per minute from more, smaller steps: step time is nearly
    // proportional to the batch at these sizes. Measured on open MS, equal minutes side by side
    // (test split): autoencoder reconstructions batch 8 18.61 dB / MS-SSIM 0.879 vs batch 4
    // 19.68 / 0.905 (12 min), batch 4 20.31 / 0.929 vs batch 2 21.66 / 0.950 (10 min), batch 1
    // no better than 2 (20.77 / 0.945 vs 20.89 / 0.942); ControlNet on the same LDM batch 8 16.65 /
    // 0.796 vs batch 2 17.26 / 0.825 (12 min); LDM batch 8 vs 2 (8 min, each under a batch-2
    // ControlNet of 10 min) 14.10 / 0.478 vs 16.66 / 0.777, ControlNet batch 1 no better (16.81 /
    // 0.776).
    batchSize: 2,
    seed: 42,
    checkpointEvery: 50,
    // An epoch is at most 40 steps. The diffusion stages' validation draws guided DDIM figures, so
    // it runs every 10 epochs (about every 2 minutes on 2 cores; on open MS the runs' overall step
    // rate was within 3% of their rate between validations); the autoencoder's validation is cheap
    // and feeds its plateau rule, so it runs every 2.
    valEvery: stage === 'autoencoder' ? 2 : 10,
    valAtStart: false,
    maxStepsPerEpoch: 40,
    // 16 batches of 2: every validation covers 32 slices, spread through the split.
    maxValBatches: 16,
  };
}

export function defaultStageConfig(
  stage: TrainStage,
  preset: TrainPreset,
  networks: { autoencoder: NetworkParams; discriminator: NetworkParams; unet: NetworkParams; controlnet: NetworkParams },
): Pick<TrainConfig, 'autoencoder' | 'ldm' | 'controlnet'> {
  const diffusion = {
    lr: 2.5e-5,
    weightDecay: 0.01,
    promptDropout: 0.1,
    scheduler: { ...REFERENCE_SCHEDULER },
    sampleSteps: preset === 'reference' ? 200 : 25,
    guidanceScale: 7.0,
    figureExamples: preset === 'reference' ? 2 : 3,
    emaDecay: null,
  };
  if (stage === 'autoencoder') {
    return {
      autoencoder: {
        network: networks.autoencoder,
        discriminator: networks.discriminator,
        // The desktop preset trains far fewer steps, so it uses a larger learning rate. Measured on
        // three real subjects at 200 steps (warmup-cosine, batch 8): validation L1 0.0497 at 2e-4,
        // 0.0407 at 1e-3, 0.0423 at 2e-3; 1e-3 reaches in 200 steps what 2e-4 reached in 640.
        lr: preset === 'reference' ? 1e-5 : 1e-3,
        discLr: preset === 'reference' ? 5e-5 : 5e-4,
        klWeight: 1e-8,
        perceptualWeight: 0.002,
        perceptualNetwork: null,
        advWeight: 0.005,
        advStartEpoch: preset === 'reference' ? 10 : 3,
        gradClip: 1.0,
      },
    };
  }
  if (stage === 'ldm') {
    return {
      ldm: {
        network: networks.unet,
        ...diffusion,
        // On open MS a ControlNet on a 12-minute LDM at 1e-3 reached, in half the ControlNet steps,
        // nearly what one on a 20-minute LDM at 2e-4 did (test 15.23 dB / MS-SSIM 0.685 vs 15.66 /
        // 0.690); no instability at this rate.
        lr: preset === 'reference' ? 2.5e-5 : 1e-3,
        latentScale: 0.3,
        contextTokens: preset === 'reference' ? 77 : 4,
        contextFile: null,
      },
    };
  }
  return {
    controlnet: {
      network: networks.controlnet,
      ...diffusion,
      // Its zero convolutions start the condition's path at zero, so the step size sets how soon
      // the FLAIR shows through. Measured on open MS (same LDM, test split, 34 slices, DDIM 50):
      // 2e-4 for 25 min 14.93 dB / MS-SSIM 0.636; 1e-3 for 12 min 15.66 / 0.690 (3e-3 gave
      // noisier figures and a worse one-step estimate).
      lr: preset === 'reference' ? 2.5e-5 : 1e-3,
      conditioningScale: 1.0,
      // Trained at 1, a desktop ControlNet follows its FLAIR more closely when sampled at a larger
      // scale. Chosen on open MS's validation subject (34 slices, DDIM 50, one sample), PSNR /
      // MS-SSIM at scales 1, 1.5, 2, 2.5, 3 of the default pipeline: 20.26 / 0.893, 20.66 / 0.905,
      // 20.51 / 0.905, 20.12 / 0.901, 19.63 / 0.893; of one on a 3-channel latent at 1, 1.5, 2,
      // 2.5: 20.26 / 0.891, 20.40 / 0.898, 19.86 / 0.888, 19.09 / 0.864. On the test subject (102
      // slices) the default pipeline scores 18.83 dB / 0.888 at 1 and 19.52 / 0.903 at 1.5. The
      // reference samples at 1.
      sampleConditioningScale: preset === 'reference' ? 1.0 : 1.5,
      // A desktop model samples at half the grid's resolution, so its upsampled output bleeds a
      // blurred rim into the background, where the real T1w is 0. Chosen on open MS's validation
      // subject (95 slices, DDIM 50, one sample, the default pipeline's ControlNet): PSNR / MS-SSIM
      // / MAE unmasked 21.38 / 0.919 / 0.039, masked 21.53 / 0.923 / 0.035. The reference's
      // published evaluation scores the raw output.
      sampleBrainMask: preset !== 'reference',
      // The desktop prompt is a learned constant, so guidance has little to amplify: on open MS's
      // validation subject (default pipeline, DDIM 50, masked, one sample) guidance 1 scored 21.56
      // dB / MS-SSIM 0.924 and 7 scored 21.53 / 0.923, and 1 samples 1.6x faster (no unconditional
      // branch: 0.17 vs 0.28 s per slice). The reference samples at 7, as published.
      guidanceScale: preset === 'reference' ? 7.0 : 1.0,
    },
  };
}

/**
 * Applies `key=value` overrides (dotted paths into the config, JSON values or bare strings).
 * Unknown keys and type changes are refused, naming the key, so a typo never silently trains
 * with defaults.
 */
export function applyOverrides<T extends object>(config: T, overrides: string[]): T {
  const out = structuredClone(config) as Record<string, unknown>;
  for (const raw of overrides) {
    const eq = raw.indexOf('=');
    if (eq <= 0) throw new Error(`--set ${raw}: expected key=value`);
    const key = raw.slice(0, eq).trim();
    const text = raw.slice(eq + 1).trim();
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = text;
    }
    const parts = key.split('.');
    let node: Record<string, unknown> = out;
    for (let i = 0; i < parts.length - 1; i++) {
      const next = node[parts[i]!];
      if (next === null || typeof next !== 'object' || Array.isArray(next)) {
        throw new Error(`--set ${key}: unknown config key (no section "${parts.slice(0, i + 1).join('.')}")`);
      }
      node = next as Record<string, unknown>;
    }
    const leaf = parts[parts.length - 1]!;
    if (!(leaf in node)) {
      throw new Error(`--set ${key}: unknown config key (known here: ${Object.keys(node).join(', ')})`);
    }
    const current = node[leaf];
    const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
    const compatible =
      kind(current) === kind(value) ||
      current === null ||
      value === null ||
      (key.endsWith('latentScale') && (typeof value === 'number' || value === 'auto')) ||
      (key === 'augment' && (typeof value === 'boolean' || typeof value === 'string'));
    if (!compatible) throw new Error(`--set ${key}: expected a ${kind(current)}, got ${JSON.stringify(value)}`);
    node[leaf] = value;
  }
  return out as T;
}

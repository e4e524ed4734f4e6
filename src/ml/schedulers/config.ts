/** Scheduler configurations with MONAI GenerativeModels 0.2.2 defaults, and the reference's preset. */
import type { PredictionType } from './ops';
import type { NoiseScheduleConfig } from './schedule';
import type { TimestepSpacing } from './timesteps';

export type VarianceType = 'fixed_small' | 'fixed_large';

export interface SchedulerConfig extends NoiseScheduleConfig {
  predictionType: PredictionType;
  /** Clamp the predicted x0 to [clipSampleMin, clipSampleMax] (MONAI default on). */
  clipSample: boolean;
  clipSampleMin: number;
  clipSampleMax: number;
  /** How set_timesteps spaces the grid; "leading" is the reference's (0.2.2) behaviour. */
  timestepSpacing: TimestepSpacing;
}

export interface DDPMConfig extends SchedulerConfig {
  varianceType: VarianceType;
}

export interface DDIMConfig extends SchedulerConfig {
  /** Use abar = 1 past the last step (so the last step returns x0_hat exactly). */
  setAlphaToOne: boolean;
  stepsOffset: number;
}

const MONAI_COMMON: SchedulerConfig = {
  numTrainTimesteps: 1000,
  schedule: 'linear_beta',
  betaStart: 1e-4,
  betaEnd: 2e-2,
  predictionType: 'epsilon',
  clipSample: true,
  clipSampleMin: -1,
  clipSampleMax: 1,
  timestepSpacing: 'leading',
};

export const MONAI_DDPM_DEFAULTS: DDPMConfig = { ...MONAI_COMMON, varianceType: 'fixed_small' };
export const MONAI_DDIM_DEFAULTS: DDIMConfig = { ...MONAI_COMMON, setAlphaToOne: true, stepsOffset: 0 };

/**
 * The schedule a training run records in its config; the rest of a scheduler's settings take
 * MONAI's defaults, and sampling builds its DDPM or DDIM scheduler from these values.
 */
export interface SchedulerParams {
  numTrainTimesteps: number;
  schedule: 'scaled_linear_beta' | 'linear_beta';
  betaStart: number;
  betaEnd: number;
  predictionType: 'v_prediction' | 'epsilon';
}

/** The reference project's schedule (ldm_v0.yaml / controlnet_v0.yaml and sample_*.py). */
export const REFERENCE_SCHEDULE: Pick<
  SchedulerConfig,
  'numTrainTimesteps' | 'schedule' | 'betaStart' | 'betaEnd' | 'predictionType'
> = {
  numTrainTimesteps: 1000,
  schedule: 'scaled_linear_beta',
  betaStart: 0.0015,
  betaEnd: 0.0205,
  predictionType: 'v_prediction',
};

/** Training scheduler: the YAML leaves clip_sample at MONAI's default (True). */
export const REFERENCE_DDPM: DDPMConfig = { ...MONAI_DDPM_DEFAULTS, ...REFERENCE_SCHEDULE };
/** Sampling scheduler: sample_*.py pass clip_sample=False. */
export const REFERENCE_DDIM: DDIMConfig = { ...MONAI_DDIM_DEFAULTS, ...REFERENCE_SCHEDULE, clipSample: false };
/** The reference samples with 200 DDIM steps (timesteps 995, 990, ..., 0). */
export const REFERENCE_DDIM_STEPS = 200;

/**
 * Tensor-side scheduler math shared by the DDPM/DDIM samplers and the trainers: forward noising,
 * velocity targets and the conversion of a network output into (x0, epsilon). Scalars are computed
 * in float32 exactly as PyTorch computes 0-dim float32 tensors, then applied with float32 tf ops.
 */
import * as tf from '@tensorflow/tfjs';
import type { NoiseSchedule } from './schedule';

export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';
export const PREDICTION_TYPES: readonly PredictionType[] = ['epsilon', 'v_prediction', 'sample'];

/** One timestep for the whole batch, or one per sample (a length-1 list broadcasts). */
export type Timesteps = number | ArrayLike<number>;

const f32 = Math.fround;

export function timestepList(t: Timesteps): number[] {
  return typeof t === 'number' ? [t] : Array.from(t);
}

export function checkTimestep(t: number, numTrainTimesteps: number): void {
  if (!Number.isInteger(t) || t < 0 || t >= numTrainTimesteps) {
    throw new Error(`timestep ${t} is outside [0, ${numTrainTimesteps - 1}]`);
  }
}

/**
 * A float32 coefficient tensor broadcastable against a sample of rank `rank` and batch `batch`:
 * a scalar when one value serves the whole batch, else shape [B, 1, ..., 1].
 */
export function coefficientTensor(values: number[], batch: number, rank: number): tf.Tensor {
  if (values.length === 1) return tf.scalar(values[0], 'float32');
  if (values.length !== batch) {
    throw new Error(`got ${values.length} timesteps for a batch of ${batch} (give one, or one per sample)`);
  }
  const shape = [batch, ...new Array<number>(Math.max(rank - 1, 0)).fill(1)];
  return tf.tensor(Float32Array.from(values), shape, 'float32');
}

function forwardCoefficients(schedule: NoiseSchedule, t: Timesteps): { sqrtAlpha: number[]; sqrtOneMinus: number[] } {
  const list = timestepList(t);
  for (const v of list) checkTimestep(v, schedule.numTrainTimesteps);
  const ac = list.map((v) => schedule.alphasCumprod[v]);
  return { sqrtAlpha: ac.map((a) => f32(Math.sqrt(a))), sqrtOneMinus: ac.map((a) => f32(Math.sqrt(f32(1 - a)))) };
}

/** x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise (MONAI add_noise). */
export function addNoise(schedule: NoiseSchedule, original: tf.Tensor, noise: tf.Tensor, t: Timesteps): tf.Tensor {
  assertSameShape(original, noise, 'add_noise: sample and noise');
  const { sqrtAlpha, sqrtOneMinus } = forwardCoefficients(schedule, t);
  return tf.tidy(() => {
    const a = coefficientTensor(sqrtAlpha, original.shape[0], original.rank);
    const b = coefficientTensor(sqrtOneMinus, original.shape[0], original.rank);
    return tf.add(tf.mul(a, original), tf.mul(b, noise));
  });
}

/** v = sqrt(abar_t) noise - sqrt(1 - abar_t) x0 (MONAI get_velocity). */
export function getVelocity(schedule: NoiseSchedule, sample: tf.Tensor, noise: tf.Tensor, t: Timesteps): tf.Tensor {
  assertSameShape(sample, noise, 'get_velocity: sample and noise');
  const { sqrtAlpha, sqrtOneMinus } = forwardCoefficients(schedule, t);
  return tf.tidy(() => {
    const a = coefficientTensor(sqrtAlpha, sample.shape[0], sample.rank);
    const b = coefficientTensor(sqrtOneMinus, sample.shape[0], sample.rank);
    return tf.sub(tf.mul(a, noise), tf.mul(b, sample));
  });
}

/**
 * The training target for a prediction type: epsilon -> noise, v_prediction -> velocity,
 * sample -> x0.
 */
export function trainingTarget(
  schedule: NoiseSchedule,
  predictionType: PredictionType,
  original: tf.Tensor,
  noise: tf.Tensor,
  t: Timesteps,
): tf.Tensor {
  switch (predictionType) {
    case 'epsilon':
      return tf.clone(noise);
    case 'sample':
      return tf.clone(original);
    case 'v_prediction':
      return getVelocity(schedule, original, noise, t);
    default:
      throw new Error(`unknown prediction type "${String(predictionType)}"`);
  }
}

/**
 * (x0_hat, eps_hat) from a network output at x_t with per-sample abar_t values, following the
 * reference's formula order so float32 rounding matches. `alphaProdT` are float32 values.
 */
export function predictedOriginalAndEpsilon(
  predictionType: PredictionType,
  modelOutput: tf.Tensor,
  sample: tf.Tensor,
  alphaProdT: number[],
): { x0: tf.Tensor; epsilon: tf.Tensor } {
  assertSameShape(modelOutput, sample, 'scheduler step: model output and sample');
  const batch = sample.shape[0];
  const rank = sample.rank;
  const sqrtA = coefficientTensor(alphaProdT.map((a) => f32(Math.sqrt(a))), batch, rank);
  const sqrtB = coefficientTensor(alphaProdT.map((a) => f32(Math.sqrt(f32(1 - a)))), batch, rank);
  switch (predictionType) {
    case 'epsilon': {
      const x0 = tf.div(tf.sub(sample, tf.mul(sqrtB, modelOutput)), sqrtA);
      return { x0, epsilon: modelOutput };
    }
    case 'sample': {
      const epsilon = tf.div(tf.sub(sample, tf.mul(sqrtA, modelOutput)), sqrtB);
      return { x0: modelOutput, epsilon };
    }
    case 'v_prediction': {
      const x0 = tf.sub(tf.mul(sqrtA, sample), tf.mul(sqrtB, modelOutput));
      const epsilon = tf.add(tf.mul(sqrtA, modelOutput), tf.mul(sqrtB, sample));
      return { x0, epsilon };
    }
    default:
      throw new Error(`unknown prediction type "${String(predictionType)}" (expected ${PREDICTION_TYPES.join(', ')})`);
  }
}

export function assertSameShape(a: tf.Tensor, b: tf.Tensor, what: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(`${what} differ in shape: [${a.shape.join(',')}] vs [${b.shape.join(',')}]`);
  }
}

/**
 * Inference timestep grids. "leading" is what MONAI GenerativeModels 0.2.2 (the reference) does;
 * "linspace" and "trailing" are the alternatives MONAI core added later (timestep_spacing).
 */

export type TimestepSpacing = 'leading' | 'linspace' | 'trailing';

export interface TimestepOptions {
  spacing?: TimestepSpacing;
  /** Added to every timestep with "leading" spacing (MONAI's steps_offset; DDIM only in 0.2.2). */
  stepsOffset?: number;
}

/** Descending timesteps for `numInferenceSteps` steps out of `numTrainTimesteps`. */
export function inferenceTimesteps(
  numTrainTimesteps: number,
  numInferenceSteps: number,
  options: TimestepOptions = {},
): Int32Array {
  const { spacing = 'leading', stepsOffset = 0 } = options;
  const n = numInferenceSteps;
  const T = numTrainTimesteps;
  if (!Number.isInteger(n) || n < 1) throw new Error(`number of inference steps must be a positive integer, got ${n}`);
  if (n > T) {
    throw new Error(`number of inference steps (${n}) cannot exceed the number of training timesteps (${T})`);
  }
  const out = new Int32Array(n);
  switch (spacing) {
    case 'leading': {
      const ratio = Math.floor(T / n);
      for (let k = 0; k < n; k++) out[k] = (n - 1 - k) * ratio + stepsOffset;
      break;
    }
    case 'linspace': {
      // np.linspace(0, T-1, n).round() reversed; numpy rounds half to even.
      for (let k = 0; k < n; k++) {
        const v = n === 1 ? 0 : ((n - 1 - k) * (T - 1)) / (n - 1);
        out[k] = roundHalfEven(v);
      }
      break;
    }
    case 'trailing': {
      // np.round(np.arange(T, 0, -T/n)) - 1
      const ratio = T / n;
      for (let k = 0; k < n; k++) out[k] = roundHalfEven(T - k * ratio) - 1;
      break;
    }
    default:
      throw new Error(`unknown timestep spacing "${String(spacing)}" (expected leading, linspace or trailing)`);
  }
  for (const t of out) {
    if (t < 0 || t >= T) throw new Error(`timestep ${t} falls outside [0, ${T - 1}] (check stepsOffset=${stepsOffset})`);
  }
  return out;
}

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

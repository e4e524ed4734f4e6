/**
 * Noise schedules as plain float32 arrays, reproducing PyTorch's float32 arithmetic bit for bit
 * (MONAI GenerativeModels 0.2.2: betas from torch.linspace in float32, alphas_cumprod from
 * torch.cumprod, which accumulates in double on the CPU and rounds each output to float32).
 */

export type BetaSchedule = 'linear_beta' | 'scaled_linear_beta';

export interface NoiseScheduleConfig {
  numTrainTimesteps: number;
  schedule: BetaSchedule;
  betaStart: number;
  betaEnd: number;
}

export interface NoiseSchedule {
  readonly numTrainTimesteps: number;
  readonly betas: Float32Array;
  readonly alphas: Float32Array;
  readonly alphasCumprod: Float32Array;
}

const f32 = Math.fround;

// torch's CPU linspace fills the output two 8-lane vectors at a time (AVX2/NEON float width) and the
// remainder with the scalar formula; each vector starts from an FMA-contracted `start + step*i`
// (first half) or `end - step*(steps-1-i)` (second half) and its lanes add `step*k`. Emulating
// exactly that is what makes the betas match the reference to the last bit.
const TORCH_VEC_LANES = 8;

function fusedBase(start: number, end: number, step: number, i: number, steps: number): number {
  const halfway = Math.floor(steps / 2);
  // step*i is exact in double (24-bit by <=31-bit), so double evaluation rounds like a float FMA.
  return i < halfway ? f32(start + step * i) : f32(end - step * (steps - i - 1));
}

/** torch.linspace(start, end, steps, dtype=torch.float32) on the CPU, bit-exact. */
export function torchLinspaceFloat32(start: number, end: number, steps: number): Float32Array {
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`linspace: steps must be a positive integer, got ${steps}`);
  const out = new Float32Array(steps);
  const s = f32(start);
  const e = f32(end);
  if (steps === 1) {
    out[0] = s;
    return out;
  }
  const step = f32((e - s) / (steps - 1));
  const pair = 2 * TORCH_VEC_LANES;
  let i = 0;
  for (; i <= steps - pair; i += pair) {
    for (let v = i; v < i + pair; v += TORCH_VEC_LANES) {
      const base = fusedBase(s, e, step, v, steps);
      for (let k = 0; k < TORCH_VEC_LANES; k++) out[v + k] = k === 0 ? base : f32(base + step * k);
    }
  }
  for (; i < steps; i++) out[i] = fusedBase(s, e, step, i, steps);
  return out;
}

/** Betas of MONAI's `linear_beta` / `scaled_linear_beta` schedules, float32. */
export function makeBetas(config: NoiseScheduleConfig): Float32Array {
  const { numTrainTimesteps: n, schedule, betaStart, betaEnd } = config;
  if (!Number.isInteger(n) || n < 1) throw new Error(`numTrainTimesteps must be a positive integer, got ${n}`);
  if (!(betaStart > 0) || !(betaEnd > 0) || !(betaEnd < 1)) {
    throw new Error(`beta range must lie in (0, 1), got betaStart=${betaStart}, betaEnd=${betaEnd}`);
  }
  switch (schedule) {
    case 'linear_beta':
      return torchLinspaceFloat32(betaStart, betaEnd, n);
    case 'scaled_linear_beta': {
      // linspace of sqrt(beta) in float32, then squared in float32 (torch `** 2` multiplies).
      const roots = torchLinspaceFloat32(Math.sqrt(betaStart), Math.sqrt(betaEnd), n);
      return roots.map((r) => f32(r * r));
    }
    default:
      throw new Error(`unknown beta schedule "${String(schedule)}" (expected linear_beta or scaled_linear_beta)`);
  }
}

/** torch.cumprod on a float32 CPU tensor: double accumulator, each prefix rounded to float32. */
export function cumprodFloat32(values: Float32Array): Float32Array {
  const out = new Float32Array(values.length);
  let acc = 1;
  for (let i = 0; i < values.length; i++) {
    acc *= values[i];
    out[i] = acc;
  }
  return out;
}

export function makeNoiseSchedule(config: NoiseScheduleConfig): NoiseSchedule {
  const betas = makeBetas(config);
  const alphas = betas.map((b) => f32(1 - b));
  return { numTrainTimesteps: config.numTrainTimesteps, betas, alphas, alphasCumprod: cumprodFloat32(alphas) };
}

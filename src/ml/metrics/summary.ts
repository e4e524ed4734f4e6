/** Mean +- population standard deviation (numpy's np.std, ddof 0), as the reference reports. */

export interface MetricSummary {
  mean: number;
  /** Population standard deviation (ddof 0). */
  std: number;
  min: number;
  max: number;
  /** Number of finite values summarised. */
  n: number;
  /** Values left out because they were NaN (e.g. an empty lesion region). */
  missing: number;
}

export function summarize(values: ArrayLike<number>): MetricSummary {
  let n = 0;
  let missing = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) {
      missing++;
      continue;
    }
    n++;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (n === 0) return { mean: NaN, std: NaN, min: NaN, max: NaN, n: 0, missing };
  const mean = sum / n;
  let ss = 0;
  if (Number.isFinite(mean)) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!Number.isNaN(v)) ss += (v - mean) * (v - mean);
    }
  }
  return { mean, std: Number.isFinite(mean) ? Math.sqrt(ss / n) : NaN, min, max, n, missing };
}

/** "0.9280 ± 0.0123" */
export function formatSummary(s: MetricSummary, digits = 4): string {
  return `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}`;
}

/**
 * Min/max bucket downsampling for plots: the step range is cut into equal-width buckets and each
 * keeps its lowest and highest point (in step order), so spikes and dips survive, unlike
 * stride sampling. The final point is always kept: it is the run's current value.
 */
export function downsampleMinMax(
  steps: ArrayLike<number>,
  values: ArrayLike<number>,
  maxPoints: number,
): { steps: number[]; values: number[] } {
  const n = steps.length;
  if (n <= maxPoints) return { steps: Array.from(steps), values: Array.from(values) };
  const buckets = Math.max(1, Math.floor((maxPoints - 1) / 2));
  const first = steps[0]!;
  const span = steps[n - 1]! - first + 1;
  const lows = new Map<number, [number, number, number]>();
  const highs = new Map<number, [number, number, number]>();
  for (let i = 0; i < n; i++) {
    const b = Math.floor(((steps[i]! - first) * buckets) / span);
    const lo = lows.get(b);
    if (!lo || values[i]! < lo[1]) lows.set(b, [b, values[i]!, steps[i]!]);
    const hi = highs.get(b);
    if (!hi || values[i]! > hi[1]) highs.set(b, [b, values[i]!, steps[i]!]);
  }
  return mergeBuckets([...lows.values()], [...highs.values()], [steps[n - 1]!, values[n - 1]!]);
}

/**
 * Joins per-bucket minima and maxima, given as [bucket, value, step] sorted by bucket, into one
 * step-ordered series, then appends the last point if it is not already there.
 */
export function mergeBuckets(
  lows: readonly [number, number, number][],
  highs: readonly [number, number, number][],
  last: readonly [number, number] | undefined,
): { steps: number[]; values: number[] } {
  const steps: number[] = [];
  const values: number[] = [];
  const highBy = new Map(highs.map((h) => [h[0], h]));
  for (const [bucket, lowValue, lowStep] of lows) {
    const high = highBy.get(bucket);
    const pair: [number, number][] = [[lowStep, lowValue]];
    if (high && high[2] !== lowStep) pair.push([high[2], high[1]]);
    pair.sort((a, b) => a[0] - b[0]);
    for (const [s, v] of pair) {
      steps.push(s);
      values.push(v);
    }
  }
  if (last && steps[steps.length - 1] !== last[0]) {
    steps.push(last[0]);
    values.push(last[1]);
  }
  return { steps, values };
}

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
  const outSteps: number[] = [];
  const outValues: number[] = [];
  let i = 0;
  for (let b = 0; b < buckets && i < n; b++) {
    const end = first + (span * (b + 1)) / buckets;
    let lo = -1;
    let hi = -1;
    for (; i < n && steps[i]! < end; i++) {
      if (lo < 0 || values[i]! < values[lo]!) lo = i;
      if (hi < 0 || values[i]! > values[hi]!) hi = i;
    }
    if (lo < 0) continue;
    const [a, c] = lo <= hi ? [lo, hi] : [hi, lo];
    outSteps.push(steps[a]!);
    outValues.push(values[a]!);
    if (c !== a) {
      outSteps.push(steps[c]!);
      outValues.push(values[c]!);
    }
  }
  if (outSteps[outSteps.length - 1] !== steps[n - 1]) {
    outSteps.push(steps[n - 1]!);
    outValues.push(values[n - 1]!);
  }
  return { steps: outSteps, values: outValues };
}

/** Pure helpers behind the loss chart (no Vue, no API), kept apart so they are unit-tested in Node. */

export const seriesKey = (split: string, name: string): string => `${split}/${name}`;

/** Exponential moving average as TensorBoard draws it (debiased, so the start is not dragged to 0). */
export function ema(values: readonly number[], weight: number): number[] {
  if (weight <= 0) return values.slice();
  const out = new Array<number>(values.length);
  let last = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) {
      out[i] = v;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    n++;
    out[i] = last / (1 - weight ** n);
  }
  return out;
}

/**
 * Puts series with different step sets on one x axis (uPlot's aligned data): the union of steps,
 * null where a series has no point. Both inputs are sorted by step, so one merge pass suffices.
 */
export function alignSeries(xs: readonly (readonly number[])[], ys: readonly (readonly number[])[]): { x: number[]; y: (number | null)[][] } {
  const all: number[] = [];
  for (const s of xs) for (const v of s) all.push(v);
  all.sort((a, b) => a - b);
  const x: number[] = [];
  for (const v of all) if (x.length === 0 || x[x.length - 1] !== v) x.push(v);
  const y = ys.map((vals, k) => {
    const steps = xs[k]!;
    const out = new Array<number | null>(x.length).fill(null);
    let j = 0;
    for (let i = 0; i < steps.length; i++) {
      while (x[j]! < steps[i]!) j++;
      out[j] = vals[i]!;
    }
    return out;
  });
  return { x, y };
}

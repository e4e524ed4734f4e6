/** The metric golden images on the 160x224 grid (i = row, j = column), defined by formula so any tool can rebuild them. */
export const GOLDEN_H = 160;
export const GOLDEN_W = 224;

function grid(fn: (i: number, j: number) => number): Float32Array {
  const out = new Float32Array(GOLDEN_H * GOLDEN_W);
  for (let i = 0; i < GOLDEN_H; i++) for (let j = 0; j < GOLDEN_W; j++) out[i * GOLDEN_W + j] = fn(i, j);
  return out;
}

const clip01 = (v: number) => Math.min(1, Math.max(0, v));

export const goldenX = () => grid((i, j) => ((7 * i + 3 * j) % 256) / 255);
export const goldenY = () => grid((i, j) => clip01(((7 * i + 3 * j) % 256) / 255 + 0.1 * Math.sin(0.3 * i + 0.2 * j)));
export const goldenX2 = () => grid((i, j) => 0.5 + 0.5 * Math.sin(i / 10) * Math.cos(j / 13));
export const goldenY2 = () => grid((i, j) => 0.5 + 0.45 * Math.sin(i / 10 + 0.2) * Math.cos(j / 13));

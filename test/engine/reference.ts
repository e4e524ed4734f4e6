/**
 * Float64 reference implementations (naive loops) for the engine tests. They follow the
 * definitions, not tfjs's code: NHWC tensors, filters [kh, kw, Cin, Cout], explicit pads.
 */

export interface Pads {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

export type PadSpec = 'same' | 'valid' | Pads;

/** TensorFlow's padding rule ('same': output ceil(in/stride), extra padding at the end). */
export function resolvePads(pad: PadSpec, h: number, w: number, kh: number, kw: number, s: number): Pads {
  if (pad === 'valid') return { top: 0, bottom: 0, left: 0, right: 0 };
  if (pad === 'same') {
    const alongH = Math.max(0, (Math.ceil(h / s) - 1) * s + kh - h);
    const alongW = Math.max(0, (Math.ceil(w / s) - 1) * s + kw - w);
    return { top: Math.floor(alongH / 2), bottom: alongH - Math.floor(alongH / 2), left: Math.floor(alongW / 2), right: alongW - Math.floor(alongW / 2) };
  }
  return pad;
}

export interface ConvCase {
  n: number;
  h: number;
  w: number;
  cin: number;
  cout: number;
  k: number;
  s: number;
  pad: PadSpec;
}

export function convOutSize(c: ConvCase): { ho: number; wo: number; p: Pads } {
  const p = resolvePads(c.pad, c.h, c.w, c.k, c.k, c.s);
  return { ho: Math.floor((c.h + p.top + p.bottom - c.k) / c.s) + 1, wo: Math.floor((c.w + p.left + p.right - c.k) / c.s) + 1, p };
}

/** y, dx and dW of loss = Σ g·conv(x, W), all in float64. */
export function convReference(c: ConvCase, x: ArrayLike<number>, wt: ArrayLike<number>, g: ArrayLike<number>) {
  const { ho, wo, p } = convOutSize(c);
  const { n, h, w, cin, cout, k, s } = c;
  const y = new Float64Array(n * ho * wo * cout);
  const dx = new Float64Array(n * h * w * cin);
  const dw = new Float64Array(k * k * cin * cout);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < ho; oy++) {
      for (let ox = 0; ox < wo; ox++) {
        for (let i = 0; i < k; i++) {
          const iy = oy * s + i - p.top;
          if (iy < 0 || iy >= h) continue;
          for (let j = 0; j < k; j++) {
            const ix = ox * s + j - p.left;
            if (ix < 0 || ix >= w) continue;
            for (let ci = 0; ci < cin; ci++) {
              const xi = ((b * h + iy) * w + ix) * cin + ci;
              for (let co = 0; co < cout; co++) {
                const yi = ((b * ho + oy) * wo + ox) * cout + co;
                const wi = ((i * k + j) * cin + ci) * cout + co;
                y[yi] += x[xi] * wt[wi];
                dx[xi] += g[yi] * wt[wi];
                dw[wi] += g[yi] * x[xi];
              }
            }
          }
        }
      }
    }
  }
  return { y, dx, dw, ho, wo };
}

/** Nearest-neighbour resize (half-pixel off, corners unaligned: src = floor(dst·in/out)). */
export function resizeNearestReference(x: ArrayLike<number>, shape: [number, number, number, number], outH: number, outW: number, g: ArrayLike<number>) {
  const [n, h, w, c] = shape;
  const y = new Float64Array(n * outH * outW * c);
  const dx = new Float64Array(n * h * w * c);
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < outH; r++) {
      const sr = Math.min(h - 1, Math.floor((r * h) / outH));
      for (let q = 0; q < outW; q++) {
        const sq = Math.min(w - 1, Math.floor((q * w) / outW));
        for (let d = 0; d < c; d++) {
          const yi = ((b * outH + r) * outW + q) * c + d;
          const xi = ((b * h + sr) * w + sq) * c + d;
          y[yi] = x[xi];
          dx[xi] += g[yi];
        }
      }
    }
  }
  return { y, dx };
}

/** C = op(A)·op(B) for row-major 2-D matrices, with grads of Σ G·C. */
export function matMulReference(a: ArrayLike<number>, b: ArrayLike<number>, g: ArrayLike<number>, m: number, k: number, n: number, tA: boolean, tB: boolean) {
  const A = (i: number, l: number) => (tA ? a[l * m + i] : a[i * k + l]);
  const B = (l: number, j: number) => (tB ? b[j * k + l] : b[l * n + j]);
  const c = new Float64Array(m * n);
  const da = new Float64Array(m * k);
  const db = new Float64Array(k * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let l = 0; l < k; l++) {
        sum += A(i, l) * B(l, j);
        const gij = g[i * n + j];
        da[tA ? l * m + i : i * k + l] += gij * B(l, j);
        db[tB ? j * k + l : l * n + j] += gij * A(i, l);
      }
      c[i * n + j] = sum;
    }
  }
  return { c, da, db };
}

/** Relative L2 error ‖got − want‖ / max(‖want‖, tiny). */
export function relL2(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) throw new Error(`length mismatch: ${got.length} vs ${want.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    num += (got[i] - want[i]) ** 2;
    den += want[i] ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Deterministic pseudo-random floats in [-1, 1) (mulberry32), so failures reproduce. */
export function randomValues(count: number, seed: number): Float32Array {
  let t = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r ^= r + Math.imul(r ^ (r >>> 7), 61 | r);
    out[i] = ((r ^ (r >>> 14)) >>> 0) / 2 ** 31 - 1;
  }
  return out;
}

/** Row-major strides of a shape. */
export function stridesOf(shape: number[]): number[] {
  const st = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) st[i] = st[i + 1] * shape[i + 1];
  return st;
}

export function unravel(flat: number, shape: number[]): number[] {
  const st = stridesOf(shape);
  return shape.map((_, i) => Math.floor(flat / st[i]) % shape[i]);
}

export function ravel(idx: number[], shape: number[]): number {
  const st = stridesOf(shape);
  return idx.reduce((s, v, i) => s + v * st[i], 0);
}

/**
 * Reference for a selection op (each output element copies one input element or is 0):
 * `source(outIndex)` gives the input flat index or -1. Returns the forward output and the
 * gradient of Σ g·y (scatter-add), in float64.
 */
export function selectionReference(x: ArrayLike<number>, outShape: number[], g: ArrayLike<number>, source: (outIdx: number[]) => number) {
  const size = outShape.reduce((p, d) => p * d, 1);
  const y = new Float64Array(size);
  const dx = new Float64Array(x.length);
  for (let o = 0; o < size; o++) {
    const src = source(unravel(o, outShape));
    if (src < 0) continue;
    y[o] = x[src];
    dx[src] += g[o];
  }
  return { y, dx };
}

/** erf by its Taylor series (float64; accurate to ~1e-14 for |x| <= 3). */
export function erf64(x: number): number {
  let term = x;
  let sum = x;
  for (let n = 1; n < 80; n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

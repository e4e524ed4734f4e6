/**
 * SSIM and MS-SSIM exactly as MONAI GenerativeModels 0.2.2 defines them (compute_ssim_and_cs +
 * MultiScaleSSIMMetric): separable Gaussian window (the 2D kernel is an outer product), valid
 * convolution, biased variances, c1 = (k1 L)^2, c2 = (k2 L)^2, relu'd per-scale means, avg-pool 2
 * between scales, and the last scale's cs replaced by its ssim. Computed in float64 (the reference
 * runs float32), which agrees to ~1e-7 relative.
 */
import { layoutOf, pairLayout, type ImageBatch } from './images';

export type SsimKernelType = 'gaussian' | 'uniform';

export interface SsimOptions {
  /** Window size; the reference scripts use 7 (MONAI's default is 11). */
  kernelSize?: number;
  sigma?: number;
  kernelType?: SsimKernelType;
  /** L in c1 = (k1 L)^2, c2 = (k2 L)^2. */
  dataRange?: number;
  k1?: number;
  k2?: number;
}

export interface MsSsimOptions extends SsimOptions {
  /** Per-scale exponents; their count sets the number of scales. */
  weights?: readonly number[];
}

export const REFERENCE_SSIM_KERNEL_SIZE = 7;
export const MS_SSIM_WEIGHTS: readonly number[] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];

export interface ResolvedSsim {
  taps: Float64Array;
  c1: number;
  c2: number;
}

/** Normalised 1D window taps (MONAI `_gaussian_kernel`, or a box for "uniform"). */
export function ssimKernelTaps(kernelSize = REFERENCE_SSIM_KERNEL_SIZE, sigma = 1.5, kernelType: SsimKernelType = 'gaussian'): Float64Array {
  if (!Number.isInteger(kernelSize) || kernelSize < 1 || kernelSize % 2 === 0) {
    throw new Error(`SSIM kernel size must be a positive odd integer, got ${kernelSize}`);
  }
  const taps = new Float64Array(kernelSize);
  if (kernelType === 'uniform') return taps.fill(1 / kernelSize);
  if (kernelType !== 'gaussian') throw new Error(`unknown SSIM kernel type "${String(kernelType)}"`);
  if (!(sigma > 0)) throw new Error(`SSIM sigma must be > 0, got ${sigma}`);
  let sum = 0;
  for (let i = 0; i < kernelSize; i++) {
    const d = i - (kernelSize - 1) / 2;
    taps[i] = Math.exp(-((d / sigma) ** 2) / 2);
    sum += taps[i];
  }
  for (let i = 0; i < kernelSize; i++) taps[i] /= sum;
  return taps;
}

export function resolveSsimOptions(options: SsimOptions): ResolvedSsim {
  const { kernelSize = REFERENCE_SSIM_KERNEL_SIZE, sigma = 1.5, kernelType = 'gaussian', dataRange = 1, k1 = 0.01, k2 = 0.03 } = options;
  if (!(dataRange > 0)) throw new Error(`SSIM dataRange must be > 0, got ${dataRange}`);
  return { taps: ssimKernelTaps(kernelSize, sigma, kernelType), c1: (k1 * dataRange) ** 2, c2: (k2 * dataRange) ** 2 };
}

export interface SsimMaps {
  /** Valid-convolution map size: (H - k + 1) x (W - k + 1). */
  height: number;
  width: number;
  ssim: Float64Array;
  cs: Float64Array;
}

/** SSIM and contrast-structure maps of one [H, W] plane pair. */
export function ssimMapsOfPlane(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  height: number,
  width: number,
  options: SsimOptions = {},
): SsimMaps {
  const { taps, c1, c2 } = resolveSsimOptions(options);
  return planeMaps(x, y, height, width, taps, c1, c2);
}

function planeMaps(x: ArrayLike<number>, y: ArrayLike<number>, h: number, w: number, g: Float64Array, c1: number, c2: number): SsimMaps {
  const k = g.length;
  const oh = h - k + 1;
  const ow = w - k + 1;
  if (oh < 1 || ow < 1) throw new Error(`SSIM: image ${h}x${w} is smaller than the ${k}x${k} window`);
  // Horizontal pass over the five moments, then the vertical pass.
  const hx = new Float64Array(h * ow);
  const hy = new Float64Array(h * ow);
  const hxx = new Float64Array(h * ow);
  const hyy = new Float64Array(h * ow);
  const hxy = new Float64Array(h * ow);
  for (let r = 0; r < h; r++) {
    const row = r * w;
    const orow = r * ow;
    for (let c = 0; c < ow; c++) {
      let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
      for (let j = 0; j < k; j++) {
        const gj = g[j];
        const a = x[row + c + j];
        const b = y[row + c + j];
        sx += gj * a;
        sy += gj * b;
        sxx += gj * a * a;
        syy += gj * b * b;
        sxy += gj * a * b;
      }
      hx[orow + c] = sx;
      hy[orow + c] = sy;
      hxx[orow + c] = sxx;
      hyy[orow + c] = syy;
      hxy[orow + c] = sxy;
    }
  }
  const ssim = new Float64Array(oh * ow);
  const cs = new Float64Array(oh * ow);
  for (let r = 0; r < oh; r++) {
    for (let c = 0; c < ow; c++) {
      let mx = 0, my = 0, exx = 0, eyy = 0, exy = 0;
      for (let i = 0; i < k; i++) {
        const gi = g[i];
        const idx = (r + i) * ow + c;
        mx += gi * hx[idx];
        my += gi * hy[idx];
        exx += gi * hxx[idx];
        eyy += gi * hyy[idx];
        exy += gi * hxy[idx];
      }
      const vx = exx - mx * mx;
      const vy = eyy - my * my;
      const cov = exy - mx * my;
      const csv = (2 * cov + c2) / (vx + vy + c2);
      const o = r * ow + c;
      cs[o] = csv;
      ssim[o] = ((2 * mx * my + c1) / (mx * mx + my * my + c1)) * csv;
    }
  }
  return { height: oh, width: ow, ssim, cs };
}

function mean(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

/** avg_pool2d(kernel 2, stride 2) with floor, on one plane. */
export function avgPool2(plane: ArrayLike<number>, height: number, width: number): { data: Float64Array; height: number; width: number } {
  const oh = Math.floor(height / 2);
  const ow = Math.floor(width / 2);
  const out = new Float64Array(oh * ow);
  for (let r = 0; r < oh; r++) {
    const a = 2 * r * width;
    const b = a + width;
    for (let c = 0; c < ow; c++) {
      out[r * ow + c] = (plane[a + 2 * c] + plane[a + 2 * c + 1] + plane[b + 2 * c] + plane[b + 2 * c + 1]) / 4;
    }
  }
  return { data: out, height: oh, width: ow };
}

/** SSIM per image (mean of the SSIM map over C, H, W). */
export function ssim(pred: ImageBatch, target: ImageBatch, options: SsimOptions = {}): Float64Array {
  const { batch, channels, height, width } = pairLayout(pred, target);
  const { taps, c1, c2 } = resolveSsimOptions(options);
  const plane = height * width;
  const out = new Float64Array(batch);
  for (let b = 0; b < batch; b++) {
    let s = 0;
    for (let ch = 0; ch < channels; ch++) {
      const o = (b * channels + ch) * plane;
      s += mean(planeMaps(pred.data.subarray(o, o + plane), target.data.subarray(o, o + plane), height, width, taps, c1, c2).ssim);
    }
    out[b] = s / channels;
  }
  return out;
}

/**
 * MONAI's size rule: each spatial dim // (scales-1)^2 must exceed kernel-1; returns the message
 * of the refusal, or null when the size is accepted.
 */
export function msSsimSizeProblem(height: number, width: number, kernelSize = REFERENCE_SSIM_KERNEL_SIZE, scales = MS_SSIM_WEIGHTS.length): string | null {
  const div = Math.max(1, scales - 1) ** 2;
  const bad = [height, width].filter((d) => Math.floor(d / div) <= kernelSize - 1);
  if (bad.length === 0) return null;
  return (
    `MS-SSIM with ${scales} scales and kernel ${kernelSize} needs every side // ${div} > ${kernelSize - 1}, ` +
    `i.e. at least ${div * kernelSize} pixels; got ${height}x${width} (MONAI refuses this size too)`
  );
}

/** MS-SSIM per image, shape (B); refuses sizes MONAI refuses. */
export function msSsim(pred: ImageBatch, target: ImageBatch, options: MsSsimOptions = {}): Float64Array {
  const { batch, channels, height, width } = pairLayout(pred, target);
  const weights = options.weights ?? MS_SSIM_WEIGHTS;
  if (weights.length < 1) throw new Error('MS-SSIM needs at least one scale weight');
  const { taps, c1, c2 } = resolveSsimOptions(options);
  const problem = msSsimSizeProblem(height, width, taps.length, weights.length);
  if (problem) throw new Error(problem);
  const plane = height * width;
  const out = new Float64Array(batch);
  for (let b = 0; b < batch; b++) {
    let xs: ArrayLike<number>[] = [];
    let ys: ArrayLike<number>[] = [];
    for (let ch = 0; ch < channels; ch++) {
      const o = (b * channels + ch) * plane;
      xs.push(pred.data.subarray(o, o + plane));
      ys.push(target.data.subarray(o, o + plane));
    }
    let h = height;
    let w = width;
    let value = 1;
    for (let s = 0; s < weights.length; s++) {
      let csSum = 0;
      let ssimSum = 0;
      for (let ch = 0; ch < channels; ch++) {
        const maps = planeMaps(xs[ch], ys[ch], h, w, taps, c1, c2);
        csSum += mean(maps.cs);
        ssimSum += mean(maps.ssim);
      }
      const last = s === weights.length - 1;
      const v = Math.max(0, (last ? ssimSum : csSum) / channels);
      value *= v ** weights[s];
      if (!last) {
        const px = xs.map((p) => avgPool2(p, h, w));
        ys = ys.map((p) => avgPool2(p, h, w).data);
        xs = px.map((p) => p.data);
        h = px[0].height;
        w = px[0].width;
      }
    }
    out[b] = value;
  }
  return out;
}

/** Checks shape only (for callers that want to validate before heavy work). */
export function assertMsSsimSize(images: ImageBatch, options: MsSsimOptions = {}): void {
  const { height, width } = layoutOf(images);
  const problem = msSsimSizeProblem(height, width, options.kernelSize ?? REFERENCE_SSIM_KERNEL_SIZE, (options.weights ?? MS_SSIM_WEIGHTS).length);
  if (problem) throw new Error(problem);
}

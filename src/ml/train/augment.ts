import type { Rng } from '../util/rng';

/**
 * The reference's training augmentations, in its order: flip ->
 * affine -> intensity shift -> contrast -> clamp. Works on single-channel H x W float images in
 * plain JS (cheap at slice sizes, identical on every tfjs backend). Paired images (FLAIR and T1w for
 * ControlNet) get the same random draw, as MONAI dictionary transforms do.
 */

export interface AugmentConfig {
  /** RandFlip along axis 0 (rows: left-right in MNI slices). */
  flipProb: number;
  /** RandAffine probability. */
  affineProb: number;
  /** Translation per axis, U[-t, t] pixels. */
  translate: number;
  /** Independent scale per axis, U[lo, hi]. */
  scale: [number, number];
  /** RandShiftIntensity: add one offset U[-r, r]. */
  shiftProb: number;
  shiftRange: number;
  /** RandAdjustContrast: gamma U[lo, hi]. */
  contrastProb: number;
  gamma: [number, number];
}

export const AUGMENT_AUTOENCODER: AugmentConfig = {
  flipProb: 0.5,
  affineProb: 0.5,
  translate: 2,
  scale: [0.95, 1.05],
  shiftProb: 0.1,
  shiftRange: 0.05,
  contrastProb: 0.1,
  gamma: [0.97, 1.03],
};

/** LDM and ControlNet share this table. */
export const AUGMENT_DIFFUSION: AugmentConfig = {
  flipProb: 0.5,
  affineProb: 0.25,
  translate: 2,
  scale: [0.99, 1.01],
  shiftProb: 0.1,
  shiftRange: 0.05,
  contrastProb: 0.1,
  gamma: [0.97, 1.03],
};

export const AUGMENT_NONE: AugmentConfig = {
  flipProb: 0,
  affineProb: 0,
  translate: 0,
  scale: [1, 1],
  shiftProb: 0,
  shiftRange: 0,
  contrastProb: 0,
  gamma: [1, 1],
};

/** One random draw, applied identically to every image of a pair. */
export interface AugmentDraw {
  flip: boolean;
  affine: { ty: number; tx: number; sy: number; sx: number } | null;
  shift: number | null;
  gamma: number | null;
}

export function drawAugment(cfg: AugmentConfig, rng: Rng): AugmentDraw {
  const flip = cfg.flipProb > 0 && rng.bernoulli(cfg.flipProb);
  const affine =
    cfg.affineProb > 0 && rng.bernoulli(cfg.affineProb)
      ? {
          ty: rng.range(-cfg.translate, cfg.translate),
          tx: rng.range(-cfg.translate, cfg.translate),
          sy: rng.range(cfg.scale[0], cfg.scale[1]),
          sx: rng.range(cfg.scale[0], cfg.scale[1]),
        }
      : null;
  const shift = cfg.shiftProb > 0 && rng.bernoulli(cfg.shiftProb) ? rng.range(-cfg.shiftRange, cfg.shiftRange) : null;
  const gamma = cfg.contrastProb > 0 && rng.bernoulli(cfg.contrastProb) ? rng.range(cfg.gamma[0], cfg.gamma[1]) : null;
  return { flip, affine, shift, gamma };
}

/**
 * Reflection about the pixel edges (-0.5 and n-0.5), as torch grid_sample does with
 * padding_mode="reflection" and align_corners=False.
 */
function reflect(coord: number, n: number): number {
  if (n === 1) return 0;
  const lo = -0.5;
  const span = n;
  let c = coord - lo;
  const period = 2 * span;
  c = ((c % period) + period) % period;
  if (c > span) c = period - c;
  return Math.min(Math.max(c + lo, 0), n - 1);
}

/**
 * Resamples with output->input map src = s * (dst - centre) + centre + t (centred coordinates),
 * bilinear, reflection padding.
 */
export function affineResample(img: Float32Array, h: number, w: number, a: NonNullable<AugmentDraw['affine']>): Float32Array {
  const out = new Float32Array(h * w);
  const cy = (h - 1) / 2;
  const cx = (w - 1) / 2;
  for (let r = 0; r < h; r++) {
    const sy = reflect(a.sy * (r - cy) + cy + a.ty, h);
    const y0 = Math.floor(sy);
    const y1 = Math.min(y0 + 1, h - 1);
    const fy = sy - y0;
    for (let c = 0; c < w; c++) {
      const sx = reflect(a.sx * (c - cx) + cx + a.tx, w);
      const x0 = Math.floor(sx);
      const x1 = Math.min(x0 + 1, w - 1);
      const fx = sx - x0;
      const top = img[y0 * w + x0]! * (1 - fx) + img[y0 * w + x1]! * fx;
      const bottom = img[y1 * w + x0]! * (1 - fx) + img[y1 * w + x1]! * fx;
      out[r * w + c] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

function flipRows(img: Float32Array, h: number, w: number): Float32Array {
  const out = new Float32Array(h * w);
  for (let r = 0; r < h; r++) out.set(img.subarray((h - 1 - r) * w, (h - r) * w), r * w);
  return out;
}

/** y = ((x - min)/(max - min + 1e-7))^gamma * (max - min) + min, per image. */
function adjustContrast(img: Float32Array, gamma: number): void {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of img) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const range = hi - lo;
  for (let i = 0; i < img.length; i++) img[i] = Math.pow((img[i]! - lo) / (range + 1e-7), gamma) * range + lo;
}

/** Applies one draw to one H x W image (returns a new array; the input is untouched). */
export function applyAugment(img: Float32Array, h: number, w: number, draw: AugmentDraw): Float32Array {
  if (img.length !== h * w) throw new Error(`augment: image has ${img.length} values, expected ${h}x${w}`);
  let x = draw.flip ? flipRows(img, h, w) : img;
  if (draw.affine) x = affineResample(x, h, w, draw.affine);
  if (x === img) x = img.slice();
  if (draw.shift !== null) for (let i = 0; i < x.length; i++) x[i] = x[i]! + draw.shift;
  if (draw.gamma !== null) adjustContrast(x, draw.gamma);
  for (let i = 0; i < x.length; i++) x[i] = Math.min(1, Math.max(0, x[i]!));
  return x;
}

/** Augments a set of paired images with one shared draw. */
export function augmentPaired(images: Float32Array[], h: number, w: number, cfg: AugmentConfig, rng: Rng): Float32Array[] {
  const draw = drawAugment(cfg, rng);
  return images.map((img) => applyAugment(img, h, w, draw));
}

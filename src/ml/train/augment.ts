import type { Rng } from '../util/rng';
import type { Augmentation } from './config';
import type { TrainStage } from './session';

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
  /** In-plane rotation U[-r, r] radians (0 in the reference's tables). */
  rotate: number;
  /** Smooth random deformation: probability, control-point spacing (pixels), displacement std (pixels). */
  elasticProb: number;
  elasticSpacing: number;
  elasticMagnitude: number;
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
  rotate: 0,
  elasticProb: 0,
  elasticSpacing: 16,
  elasticMagnitude: 0,
  shiftProb: 0.1,
  shiftRange: 0.05,
  contrastProb: 0.1,
  gamma: [0.97, 1.03],
};

/** LDM and ControlNet share this table: the autoencoder's with a rarer, nearly unscaled affine. */
export const AUGMENT_DIFFUSION: AugmentConfig = {
  ...AUGMENT_AUTOENCODER,
  affineProb: 0.25,
  scale: [0.99, 1.01],
};

/**
 * Stronger, anatomy-varying augmentation for a training set of few subjects: rotations, larger
 * anisotropic scaling and a smooth deformation give the networks ventricles, sulci and outlines of
 * other shapes and sizes than the one brain they see. Pixel sizes are for the desktop's 80x112.
 */
export const AUGMENT_ANATOMY: AugmentConfig = {
  // The diffusion table's flips and intensity changes, with stronger geometry.
  ...AUGMENT_DIFFUSION,
  affineProb: 0.8,
  translate: 4,
  scale: [0.9, 1.1],
  rotate: (10 * Math.PI) / 180,
  elasticProb: 0.5,
  elasticMagnitude: 2,
};

export const AUGMENT_NONE: AugmentConfig = {
  flipProb: 0,
  affineProb: 0,
  translate: 0,
  scale: [1, 1],
  rotate: 0,
  elasticProb: 0,
  elasticSpacing: 16,
  elasticMagnitude: 0,
  shiftProb: 0,
  shiftRange: 0,
  contrastProb: 0,
  gamma: [1, 1],
};

/** Displacements (pixels) at a coarse grid of control points, interpolated smoothly in between. */
export interface ElasticField {
  rows: number;
  cols: number;
  dy: Float32Array;
  dx: Float32Array;
}

/**
 * The table a stage trains with under a run's augmentation setting (null: none). The reference
 * setting keeps the reference's per-stage tables; booleans are older runs' form of the setting.
 */
export function augmentTable(setting: Augmentation | boolean, stage: TrainStage): AugmentConfig | null {
  if (setting === false || setting === 'none') return null;
  if (setting === 'anatomy') return AUGMENT_ANATOMY;
  return stage === 'autoencoder' ? AUGMENT_AUTOENCODER : AUGMENT_DIFFUSION;
}

/** One random draw, applied identically to every image of a pair. */
export interface AugmentDraw {
  flip: boolean;
  affine: { ty: number; tx: number; sy: number; sx: number; rot?: number } | null;
  elastic?: ElasticField | null;
  shift: number | null;
  gamma: number | null;
}

/**
 * Draws one augmentation. h and w size the elastic field's control grid; tables without rotation
 * or deformation consume the random stream exactly as before those existed, so a seed gives the
 * reference tables the same augmentations it always did.
 */
export function drawAugment(cfg: AugmentConfig, rng: Rng, h = 0, w = 0): AugmentDraw {
  const flip = cfg.flipProb > 0 && rng.bernoulli(cfg.flipProb);
  const affine =
    cfg.affineProb > 0 && rng.bernoulli(cfg.affineProb)
      ? {
          ty: rng.range(-cfg.translate, cfg.translate),
          tx: rng.range(-cfg.translate, cfg.translate),
          sy: rng.range(cfg.scale[0], cfg.scale[1]),
          sx: rng.range(cfg.scale[0], cfg.scale[1]),
          ...(cfg.rotate > 0 ? { rot: rng.range(-cfg.rotate, cfg.rotate) } : {}),
        }
      : null;
  let elastic: ElasticField | null = null;
  if (cfg.elasticProb > 0 && cfg.elasticMagnitude > 0 && h > 1 && w > 1 && rng.bernoulli(cfg.elasticProb)) {
    const rows = Math.max(2, Math.ceil((h - 1) / cfg.elasticSpacing) + 1);
    const cols = Math.max(2, Math.ceil((w - 1) / cfg.elasticSpacing) + 1);
    const dy = new Float32Array(rows * cols);
    const dx = new Float32Array(rows * cols);
    for (let i = 0; i < dy.length; i++) {
      dy[i] = rng.normal() * cfg.elasticMagnitude;
      dx[i] = rng.normal() * cfg.elasticMagnitude;
    }
    elastic = { rows, cols, dy, dx };
  }
  const shift = cfg.shiftProb > 0 && rng.bernoulli(cfg.shiftProb) ? rng.range(-cfg.shiftRange, cfg.shiftRange) : null;
  const gamma = cfg.contrastProb > 0 && rng.bernoulli(cfg.contrastProb) ? rng.range(cfg.gamma[0], cfg.gamma[1]) : null;
  return { flip, affine, elastic, shift, gamma };
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

/** Bilinear sample at (sy, sx), coordinates reflected into the image. */
function sampleAt(img: Float32Array, h: number, w: number, y: number, x: number): number {
  const sy = reflect(y, h);
  const sx = reflect(x, w);
  const y0 = Math.floor(sy);
  const y1 = Math.min(y0 + 1, h - 1);
  const fy = sy - y0;
  const x0 = Math.floor(sx);
  const x1 = Math.min(x0 + 1, w - 1);
  const fx = sx - x0;
  const top = img[y0 * w + x0]! * (1 - fx) + img[y0 * w + x1]! * fx;
  const bottom = img[y1 * w + x0]! * (1 - fx) + img[y1 * w + x1]! * fx;
  return top * (1 - fy) + bottom * fy;
}

/** Smoothstep weight: the field is continuous with continuous slope across control cells. */
const smooth = (t: number) => t * t * (3 - 2 * t);

/**
 * The source coordinates of every output pixel, interleaved (y, x): src = R(rot) S (dst - centre)
 * + centre + t, plus the elastic field's displacement at dst. Computed once per draw and shared by
 * the images of a pair.
 */
function sourceCoords(h: number, w: number, a: NonNullable<AugmentDraw['affine']>, elastic: ElasticField | null): Float64Array {
  const out = new Float64Array(2 * h * w);
  const cy = (h - 1) / 2;
  const cx = (w - 1) / 2;
  const cos = Math.cos(a.rot ?? 0);
  const sin = Math.sin(a.rot ?? 0);
  for (let r = 0; r < h; r++) {
    const py = a.sy * (r - cy);
    for (let c = 0; c < w; c++) {
      const px = a.sx * (c - cx);
      const k = 2 * (r * w + c);
      out[k] = cos * py - sin * px + cy + a.ty;
      out[k + 1] = sin * py + cos * px + cx + a.tx;
    }
  }
  if (elastic) addDisplacements(out, elastic, h, w);
  return out;
}

/** Adds the field's displacement, interpolated from its control grid, to every pixel's (y, x). */
function addDisplacements(coords: Float64Array, f: ElasticField, h: number, w: number): void {
  const { cols, dy, dx } = f;
  for (let r = 0; r < h; r++) {
    const gy = (r / Math.max(h - 1, 1)) * (f.rows - 1);
    const i0 = Math.min(Math.floor(gy), f.rows - 2);
    const ty = smooth(gy - i0);
    for (let c = 0; c < w; c++) {
      const gx = (c / Math.max(w - 1, 1)) * (cols - 1);
      const j0 = Math.min(Math.floor(gx), cols - 2);
      const tx = smooth(gx - j0);
      const a = i0 * cols + j0;
      const b = a + cols;
      const k = 2 * (r * w + c);
      coords[k] += (dy[a]! * (1 - tx) + dy[a + 1]! * tx) * (1 - ty) + (dy[b]! * (1 - tx) + dy[b + 1]! * tx) * ty;
      coords[k + 1] += (dx[a]! * (1 - tx) + dx[a + 1]! * tx) * (1 - ty) + (dx[b]! * (1 - tx) + dx[b + 1]! * tx) * ty;
    }
  }
}

/** Bilinear resampling at the given source coordinates, reflection padding. */
function resampleAt(img: Float32Array, h: number, w: number, coords: Float64Array): Float32Array {
  const out = new Float32Array(h * w);
  for (let i = 0; i < out.length; i++) out[i] = sampleAt(img, h, w, coords[2 * i]!, coords[2 * i + 1]!);
  return out;
}

/**
 * Resamples with output->input map src = R(rot) S (dst - centre) + centre + t (+ the elastic
 * field's displacement at dst), bilinear, reflection padding.
 */
export function affineResample(
  img: Float32Array,
  h: number,
  w: number,
  a: NonNullable<AugmentDraw['affine']>,
  elastic: ElasticField | null = null,
): Float32Array {
  return resampleAt(img, h, w, sourceCoords(h, w, a, elastic));
}

const IDENTITY = { ty: 0, tx: 0, sy: 1, sx: 1 };

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

/** The draw's resampling coordinates, or null when it moves no pixel (flips aside). */
function drawCoords(draw: AugmentDraw, h: number, w: number): Float64Array | null {
  return draw.affine || draw.elastic ? sourceCoords(h, w, draw.affine ?? IDENTITY, draw.elastic ?? null) : null;
}

/** Applies one draw to one H x W image (returns a new array; the input is untouched). */
export function applyAugment(img: Float32Array, h: number, w: number, draw: AugmentDraw, coords = drawCoords(draw, h, w)): Float32Array {
  if (img.length !== h * w) throw new Error(`augment: image has ${img.length} values, expected ${h}x${w}`);
  let x = draw.flip ? flipRows(img, h, w) : img;
  if (coords) x = resampleAt(x, h, w, coords);
  if (x === img) x = img.slice();
  if (draw.shift !== null) for (let i = 0; i < x.length; i++) x[i] = x[i]! + draw.shift;
  if (draw.gamma !== null) adjustContrast(x, draw.gamma);
  for (let i = 0; i < x.length; i++) x[i] = Math.min(1, Math.max(0, x[i]!));
  return x;
}

/** Augments a set of paired images with one shared draw (its coordinates computed once). */
export function augmentPaired(images: Float32Array[], h: number, w: number, cfg: AugmentConfig, rng: Rng): Float32Array[] {
  const draw = drawAugment(cfg, rng, h, w);
  const coords = drawCoords(draw, h, w);
  return images.map((img) => applyAugment(img, h, w, draw, coords));
}

/**
 * Procedural brain phantom on the FSL MNI152 1 mm grid (182x218x182, LAS). SYNTHETIC: no
 * anatomy is copied from any template; shapes are ellipsoids with seeded low-frequency
 * deformation, a folded cortical ribbon, lateral ventricles, deep grey matter and periventricular
 * lesions. Intensities come from per-tissue T1w/FLAIR properties (T1w: WM > GM > CSF; FLAIR: CSF
 * dark, lesions bright), then partial-volume blur, a smooth multiplicative bias field and
 * Gaussian noise; background is 0 as in skull-stripped data. Every subject differs in shape,
 * ventricle size, lesion load and intensity scaling, deterministically from (seed, index).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeNifti } from './nifti';
import type { Affine } from './orientation';
import type { SubjectFiles } from './bids';
import { mulberry32 } from './split';

export const PHANTOM_LABEL = 'SYNTHETIC PHANTOM';
export const PHANTOM_ATTRIBUTION =
  'SYNTHETIC PHANTOM generated procedurally by brainsynth (no patient data, no template anatomy). Not a real MRI.';

export const PHANTOM_DIMS: [number, number, number] = [182, 218, 182];
export const PHANTOM_AFFINE: Affine = [
  [-1, 0, 0, 90],
  [0, 1, 0, -126],
  [0, 0, 1, -72],
  [0, 0, 0, 1],
];

/** Tissue labels in the phantom's label map. */
export const TISSUE = { background: 0, csf: 1, gm: 2, wm: 3, deepGm: 4, ventricle: 5, lesion: 6 } as const;

/** Relative T1w and FLAIR signal per tissue (index = TISSUE value); scaled per subject. */
const T1W = [0, 0.22, 0.62, 1.0, 0.74, 0.2, 0.45];
const FLAIR = [0, 0.1, 0.78, 0.55, 0.7, 0.07, 1.35];

export interface PhantomSubject {
  dims: [number, number, number];
  affine: Affine;
  labels: Uint8Array;
  t1w: Float32Array;
  flair: Float32Array;
  lesionMask: Float32Array;
  params: { ventricleScale: number; lesions: number; t1Gain: number; flairGain: number };
}

function gauss(rand: () => number): number {
  const u = Math.max(1e-12, rand());
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

interface Ellipsoid {
  c: [number, number, number];
  r: [number, number, number];
}

function inside(e: Ellipsoid, x: number, y: number, z: number): number {
  const dx = (x - e.c[0]) / e.r[0];
  const dy = (y - e.c[1]) / e.r[1];
  const dz = (z - e.c[2]) / e.r[2];
  return dx * dx + dy * dy + dz * dz;
}

/** Generates one subject in memory (about a second on one core). */
export function generatePhantomSubject(seed: number, index: number): PhantomSubject {
  const rand = mulberry32((seed * 7919 + index * 104729 + 1) >>> 0);
  const n = (s: number) => s * gauss(rand);
  const [nx, ny, nz] = PHANTOM_DIMS;
  const centre: [number, number, number] = [n(1), -18 + n(2), 12 + n(2)];
  const radius: [number, number, number] = [66 * (1 + n(0.03)), 86 * (1 + n(0.03)), 58 * (1 + n(0.03))];
  const shape = [n(0.05), n(0.05), n(0.04), n(0.03)];
  const phase = [rand() * 6.283, rand() * 6.283, rand() * 6.283];
  const ventricleScale = 0.8 + rand() * 0.8;
  const ventricles: Ellipsoid[] = [-1, 1].map((side) => ({
    c: [centre[0] + side * 10 * (0.9 + 0.2 * ventricleScale), centre[1] + 4, centre[2] + 6],
    r: [5 * ventricleScale, 24 * (0.85 + 0.15 * ventricleScale), 8 * ventricleScale],
  }));
  const deepGm: Ellipsoid[] = [-1, 1].map((side) => ({ c: [centre[0] + side * 15, centre[1] - 2, centre[2] - 6], r: [8, 13, 9] }));
  const lesionCount = Math.floor(2 + rand() * 18);
  const lesions: Ellipsoid[] = [];
  for (let l = 0; l < lesionCount; l++) {
    const v = ventricles[l % 2]!;
    // Periventricular: just outside a ventricle, toward its lateral/superior side.
    const a = rand() * Math.PI * 2;
    const out = 1.25 + rand() * 0.6;
    const side = l % 2 === 0 ? -1 : 1;
    lesions.push({
      c: [v.c[0] + side * Math.abs(Math.cos(a)) * v.r[0] * out, v.c[1] + Math.sin(a) * v.r[1] * 0.8, v.c[2] + Math.abs(Math.sin(a)) * v.r[2] * out],
      r: [1.5 + rand() * 3, 2 + rand() * 4, 1.5 + rand() * 3],
    });
  }
  const labels = new Uint8Array(nx * ny * nz);
  const lesionMask = new Float32Array(nx * ny * nz);
  // The folding pattern is a product of per-axis sines: precompute each factor once.
  const foldX = Float64Array.from({ length: nx }, (_, i) => Math.sin((90 - i) / 4.6 + phase[0]!));
  const foldY = Float64Array.from({ length: ny }, (_, j) => Math.sin((j - 126) / 5.1 + phase[1]!));
  const foldZ = Float64Array.from({ length: nz }, (_, k) => Math.sin((k - 72) / 4.8 + phase[2]!));
  const hit = (list: Ellipsoid[], x: number, y: number, z: number) => {
    for (let e = 0; e < list.length; e++) if (inside(list[e]!, x, y, z) < 1) return true;
    return false;
  };
  // Only ellipsoids whose z extent covers the current plane are tested there.
  const near = (list: Ellipsoid[], z: number) => list.filter((e) => Math.abs(z - e.c[2]) <= e.r[2]);
  for (let k = 0; k < nz; k++) {
    const z = k - 72;
    const dz = (z - centre[2]) / radius[2];
    if (dz * dz > 1.3) continue;
    const deepHere = near(deepGm, z);
    const ventHere = near(ventricles, z);
    const lesHere = near(lesions, z);
    for (let j = 0; j < ny; j++) {
      const y = j - 126;
      const dy = (y - centre[1]) / radius[1];
      if (dy * dy + dz * dz > 1.3) continue;
      for (let i = 0; i < nx; i++) {
        const x = 90 - i;
        const dx = (x - centre[0]) / radius[0];
        const r2 = dx * dx + dy * dy + dz * dz;
        if (r2 > 1.3) continue;
        const r = Math.sqrt(r2) || 1e-6;
        const ux = dx / r;
        const uy = dy / r;
        const uz = dz / r;
        // Seeded low-order deformation of the outer surface; flatter base.
        const s = 1 + shape[0]! * uy * uz + shape[1]! * (ux * ux - uy * uy) + shape[2]! * uz + shape[3]! * uy - (uz < -0.3 ? 0.08 * (-uz - 0.3) : 0);
        const rho = r / s;
        if (rho >= 1.03) continue;
        const idx = i + nx * (j + ny * k);
        if (rho >= 1.0) {
          labels[idx] = TISSUE.csf;
          continue;
        }
        const fold = foldX[i]! * foldY[j]! * foldZ[k]!;
        let label: number;
        if (Math.abs(x - centre[0]) < 1.2 && rho > 0.6 && z > centre[2] - 10) label = TISSUE.csf; // interhemispheric fissure
        else if (rho > 0.93 && fold < -0.55) label = TISSUE.csf; // sulci
        else if (rho > 0.84 + 0.07 * fold) label = TISSUE.gm;
        else label = TISSUE.wm;
        if (label === TISSUE.wm) {
          if (deepHere.length && hit(deepHere, x, y, z)) label = TISSUE.deepGm;
          if (ventHere.length && hit(ventHere, x, y, z)) label = TISSUE.ventricle;
          else if (lesHere.length && hit(lesHere, x, y, z)) {
            label = TISSUE.lesion;
            lesionMask[idx] = 1;
          }
        }
        labels[idx] = label;
      }
    }
  }
  const t1Gain = 300 * (1 + n(0.1));
  const flairGain = 100 * (1 + n(0.1));
  const t1Contrast = T1W.map((v, t) => (t === 0 ? 0 : v * (1 + n(0.04))));
  const flairContrast = FLAIR.map((v, t) => (t === 0 ? 0 : v * (1 + n(0.04))));
  const t1w = new Float32Array(labels.length);
  const flair = new Float32Array(labels.length);
  for (let v = 0; v < labels.length; v++) {
    t1w[v] = t1Contrast[labels[v]!]!;
    flair[v] = flairContrast[labels[v]!]!;
  }
  blur3(t1w, PHANTOM_DIMS);
  blur3(flair, PHANTOM_DIMS);
  const bias = [n(0.08), n(0.08), n(0.08), n(0.05), n(0.08), n(0.08), n(0.08), n(0.05)];
  for (let k = 0; k < nz; k++) {
    const bz = (k - 72 - centre[2]) / radius[2];
    for (let j = 0; j < ny; j++) {
      const by = (j - 126 - centre[1]) / radius[1];
      for (let i = 0; i < nx; i++) {
        const idx = i + nx * (j + ny * k);
        if (labels[idx] === 0 && t1w[idx] === 0) continue;
        const bx = (90 - i - centre[0]) / radius[0];
        const q = bx * bx + by * by + bz * bz;
        const tb = 1 + bias[0]! * bx + bias[1]! * by + bias[2]! * bz + bias[3]! * q;
        const fb = 1 + bias[4]! * bx + bias[5]! * by + bias[6]! * bz + bias[7]! * q;
        t1w[idx] = (t1w[idx]! * tb + n(0.015)) * t1Gain;
        flair[idx] = (flair[idx]! * fb + n(0.015)) * flairGain;
      }
    }
  }
  return { dims: PHANTOM_DIMS, affine: PHANTOM_AFFINE, labels, t1w, flair, lesionMask, params: { ventricleScale, lesions: lesionCount, t1Gain, flairGain } };
}

/**
 * Separable [1/4, 1/2, 1/4] blur along each axis: a voxel of partial-volume mixing. Rows and
 * planes are processed as contiguous blocks (cache-friendly on the strided y and z passes).
 */
function blur3(data: Float32Array, dims: readonly number[]): void {
  const [nx, ny, nz] = dims as [number, number, number];
  for (let base = 0; base < data.length; base += nx) {
    let prev = 0;
    for (let i = 0; i < nx; i++) {
      const cur = data[base + i]!;
      const next = i < nx - 1 ? data[base + i + 1]! : 0;
      data[base + i] = 0.25 * prev + 0.5 * cur + 0.25 * next;
      prev = cur;
    }
  }
  blurStrided(data, nx, ny, nz); // y: lines of nx, ny per plane, nz planes
  blurStrided(data, nx * ny, nz, 1); // z: planes of nx*ny
}

function blurStrided(data: Float32Array, stride: number, length: number, blocks: number): void {
  let prev = new Float32Array(stride);
  let cur = new Float32Array(stride);
  for (let b = 0; b < blocks; b++) {
    const base = b * stride * length;
    prev.fill(0);
    for (let t = 0; t < length; t++) {
      const off = base + t * stride;
      cur.set(data.subarray(off, off + stride));
      const hasNext = t < length - 1;
      for (let e = 0; e < stride; e++) {
        const next = hasNext ? data[off + stride + e]! : 0;
        data[off + e] = 0.25 * prev[e]! + 0.5 * cur[e]! + 0.25 * next;
      }
      [prev, cur] = [cur, prev];
    }
  }
}

export interface PhantomOptions {
  subjects: number;
  seed?: number;
  onSubject?: (done: number, total: number) => void;
}

/** Writes `subjects` phantom subjects as BIDS (sub-phantomNN/anat/...) under `dir`. */
export function writePhantomDataset(dir: string, opts: PhantomOptions): SubjectFiles[] {
  if (!(Number.isInteger(opts.subjects) && opts.subjects >= 1 && opts.subjects <= 500)) {
    throw new Error(`phantom: --subjects must be an integer 1..500 (got ${opts.subjects})`);
  }
  const seed = opts.seed ?? 0;
  const out: SubjectFiles[] = [];
  for (let s = 0; s < opts.subjects; s++) {
    const subject = `sub-phantom${String(s + 1).padStart(2, '0')}`;
    const anat = join(dir, subject, 'anat');
    mkdirSync(anat, { recursive: true });
    const p = generatePhantomSubject(seed, s);
    const write = (suffix: string, data: Float32Array) => {
      const path = join(anat, `${subject}_${suffix}.nii.gz`);
      writeNifti(path, { dims: p.dims, data }, p.affine, { qformCode: 4, sformCode: 4, description: PHANTOM_LABEL, gzipLevel: 1 });
      return path;
    };
    out.push({ subject, session: null, flair: write('FLAIR', p.flair), t1w: write('T1w', p.t1w), lesionMask: write('label-lesion_mask', p.lesionMask) });
    opts.onSubject?.(s + 1, opts.subjects);
  }
  return out;
}

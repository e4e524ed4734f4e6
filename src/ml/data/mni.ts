/**
 * MNI grid recognition and per-volume sanity checks. A grid is recognised from its shape and
 * voxel-to-world affine *after* reorientation to LAS, so a RAS-stored copy of the FSL grid is the
 * same grid. Header codes (qform/sform = 4 "MNI_152") are reported but not required: our open MS
 * data carries qform_code 1 / sform_code 0 on the exact FSL grid, and we accept that with a note.
 */
import { planReorientation, type Affine } from './orientation';
import type { NiftiHeaderInfo } from './nifti';

export interface MniGrid {
  id: string;
  label: string;
  /** Shape in LAS order. */
  dims: [number, number, number];
  /** Voxel-to-world affine in LAS order. */
  affine: Affine;
  /** Voxel size in mm (isotropic). */
  voxelMm: number;
}

/** LAS form of a RAS grid whose voxel (0,0,0) sits at `origin`. */
function fromRas(dims: [number, number, number], origin: [number, number, number], mm: number): Affine {
  return planReorientation(
    [
      [mm, 0, 0, origin[0]],
      [0, mm, 0, origin[1]],
      [0, 0, mm, origin[2]],
      [0, 0, 0, 1],
    ],
    dims,
    'LAS',
  ).affine;
}

export const MNI_GRIDS: readonly MniGrid[] = [
  {
    id: 'fsl-mni152-1mm',
    label: 'FSL MNI152 1 mm (182x218x182)',
    dims: [182, 218, 182],
    affine: [
      [-1, 0, 0, 90],
      [0, 1, 0, -126],
      [0, 0, 1, -72],
      [0, 0, 0, 1],
    ],
    voxelMm: 1,
  },
  {
    id: 'fsl-mni152-2mm',
    label: 'FSL/SPM MNI152 2 mm (91x109x91)',
    dims: [91, 109, 91],
    affine: [
      [-2, 0, 0, 90],
      [0, 2, 0, -126],
      [0, 0, 2, -72],
      [0, 0, 0, 1],
    ],
    voxelMm: 2,
  },
  {
    id: 'icbm2009a-1mm',
    label: 'ICBM 2009a nonlinear symmetric 1 mm (197x233x189)',
    dims: [197, 233, 189],
    affine: fromRas([197, 233, 189], [-98, -134, -72], 1),
    voxelMm: 1,
  },
  {
    id: 'icbm2009c-1mm',
    label: 'ICBM 2009c nonlinear 1 mm (193x229x193)',
    dims: [193, 229, 193],
    affine: fromRas([193, 229, 193], [-96, -132, -78], 1),
    voxelMm: 1,
  },
];

/** Tolerances: affine rotation/scale entries and translations (mm). */
export const GRID_TOLERANCE = { linear: 1e-3, translationMm: 0.5 };

export function affinesClose(a: Affine, b: Affine, tol = GRID_TOLERANCE): boolean {
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) if (Math.abs(a[r]![c]! - b[r]![c]!) > tol.linear) return false;
    if (Math.abs(a[r]![3]! - b[r]![3]!) > tol.translationMm) return false;
  }
  return true;
}

/** The recognised MNI grid for a shape + affine (any storage orientation), or undefined. */
export function matchMniGrid(dims: readonly number[], affine: Affine): MniGrid | undefined {
  const las = planReorientation(affine, dims, 'LAS');
  return MNI_GRIDS.find((g) => g.dims.every((n, i) => las.dims[i] === n) && affinesClose(las.affine, g.affine));
}

export function gridById(id: string): MniGrid | undefined {
  return MNI_GRIDS.find((g) => g.id === id);
}

export interface VolumeChecks {
  grid: string | null;
  gridLabel: string | null;
  orientation: string;
  is4D: boolean;
  nanCount: number;
  infCount: number;
  min: number;
  max: number;
  nonzero: number;
  empty: boolean;
  /** Human-readable notes that are not errors (stored with the dataset). */
  notes: string[];
  /** Problems that make the volume unusable (import refuses the dataset). */
  errors: string[];
}

/**
 * Checks one volume: recognised grid, 4D, NaN/Inf, empty. `data` may be omitted for a
 * header-only check; masks pass allowEmpty (a subject may have no lesions). Errors are phrased without the file name; callers prefix it.
 */
export function checkVolume(info: NiftiHeaderInfo, data?: Float32Array, opts: { allowEmpty?: boolean } = {}): VolumeChecks {
  const grid = matchMniGrid(info.dims, info.affine);
  const notes: string[] = [];
  const errors: string[] = [];
  const is4D = info.frames > 1;
  if (is4D) errors.push(`4D data (${info.shape.join('x')}): expected one 3D volume`);
  if (!grid) {
    errors.push(
      `grid ${info.dims.join('x')} with affine ${formatAffine(info.affine)} is not a recognised MNI grid ` +
        `(${MNI_GRIDS.map((g) => g.label).join('; ')}); register the volume to MNI space first`,
    );
  } else if (info.sformCode !== 4 && info.qformCode !== 4) {
    notes.push(
      `header does not say MNI (qform_code ${info.qformCode}, sform_code ${info.sformCode}); ` +
        `accepted because shape and affine match the ${grid.label} grid`,
    );
  }
  let nanCount = 0;
  let infCount = 0;
  let min = Infinity;
  let max = -Infinity;
  let nonzero = 0;
  if (data) {
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      if (v !== v) nanCount++;
      else if (v === Infinity || v === -Infinity) infCount++;
      else {
        if (v < min) min = v;
        if (v > max) max = v;
        if (v !== 0) nonzero++;
      }
    }
    if (nanCount > 0) errors.push(`${nanCount} NaN voxel(s)`);
    if (infCount > 0) errors.push(`${infCount} infinite voxel(s)`);
    if (nonzero === 0 && !opts.allowEmpty) errors.push('empty volume (every voxel is zero)');
  }
  return {
    grid: grid?.id ?? null,
    gridLabel: grid?.label ?? null,
    orientation: info.orientation,
    is4D,
    nanCount,
    infCount,
    min: Number.isFinite(min) ? min : 0,
    max: Number.isFinite(max) ? max : 0,
    nonzero,
    empty: data ? nonzero === 0 : false,
    notes,
    errors,
  };
}

/**
 * Whether two volumes share a voxel grid (shape + affine within tolerance) once both are
 * reoriented to LAS: a RAS-stored T1w on the FLAIR's grid is the same grid, since every slice is
 * taken after that exact reorientation.
 */
export function sameGrid(a: { dims: readonly number[]; affine: Affine }, b: { dims: readonly number[]; affine: Affine }): boolean {
  const pa = planReorientation(a.affine, a.dims, 'LAS');
  const pb = planReorientation(b.affine, b.dims, 'LAS');
  return pa.dims.every((n, i) => n === pb.dims[i]) && affinesClose(pa.affine, pb.affine);
}

export function formatAffine(a: Affine): string {
  return `[${a
    .slice(0, 3)
    .map((row) => `[${row.map((v) => +v.toFixed(3)).join(',')}]`)
    .join(',')}]`;
}

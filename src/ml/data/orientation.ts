/**
 * Voxel-to-world affines and axis orientation codes (NIfTI world space is RAS+: +x right,
 * +y anterior, +z superior). A code string names, per voxel axis, the direction in which that
 * axis *increases*: the FSL MNI152 grid stores 'LAS' (x index grows toward the left).
 */

/** Row-major 4x4 matrix. */
export type Affine = number[][];

export type AxisCode = 'L' | 'R' | 'P' | 'A' | 'I' | 'S';

const POSITIVE: readonly AxisCode[] = ['R', 'A', 'S'];
const NEGATIVE: readonly AxisCode[] = ['L', 'P', 'I'];

export function identityAffine(): Affine {
  return [
    [1, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 1, 0],
    [0, 0, 0, 1],
  ];
}

export function multiplyAffine(a: Affine, b: Affine): Affine {
  const out: Affine = [];
  for (let r = 0; r < 4; r++) {
    const row: number[] = [];
    for (let c = 0; c < 4; c++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += a[r]![k]! * b[k]![c]!;
      row.push(s);
    }
    out.push(row);
  }
  return out;
}

/** World coordinate (mm) of voxel (i, j, k). */
export function voxelToWorld(affine: Affine, i: number, j: number, k: number): [number, number, number] {
  const a = affine;
  return [
    a[0]![0]! * i + a[0]![1]! * j + a[0]![2]! * k + a[0]![3]!,
    a[1]![0]! * i + a[1]![1]! * j + a[1]![2]! * k + a[1]![3]!,
    a[2]![0]! * i + a[2]![1]! * j + a[2]![2]! * k + a[2]![3]!,
  ];
}

/** Inverse of a voxel-to-world affine (world mm -> fractional voxel index); throws if singular. */
export function invertAffine(affine: Affine): Affine {
  const m = affine.slice(0, 3).map((row) => row.slice(0, 3));
  const [a, b, c] = m[0] as [number, number, number];
  const [d, e, f] = m[1] as [number, number, number];
  const [g, h, i] = m[2] as [number, number, number];
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  if (Math.abs(det) < 1e-12) throw new Error('affine is singular');
  const inv = [
    [(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det],
    [(f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det],
    [(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det],
  ];
  const t = [affine[0]![3]!, affine[1]![3]!, affine[2]![3]!];
  const out: Affine = inv.map((row) => [...row, -(row[0]! * t[0]! + row[1]! * t[1]! + row[2]! * t[2]!)]);
  out.push([0, 0, 0, 1]);
  return out;
}

/** Fractional voxel index of a world point (mm); round it to pick a voxel. */
export function worldToVoxel(affine: Affine, x: number, y: number, z: number): [number, number, number] {
  return voxelToWorld(invertAffine(affine), x, y, z);
}

/** Per voxel axis: which world axis (0=x,1=y,2=z) it mostly follows and in which sign. */
function axisMapping(affine: Affine): { world: number; sign: 1 | -1 }[] {
  const used = new Set<number>();
  const mapping: { world: number; sign: 1 | -1 }[] = [];
  // Strongest column entries first, so oblique affines still get a permutation (like nibabel's io_orientation).
  const cells: { voxel: number; world: number; weight: number }[] = [];
  for (let voxel = 0; voxel < 3; voxel++) {
    for (let world = 0; world < 3; world++) cells.push({ voxel, world, weight: Math.abs(affine[world]![voxel]!) });
  }
  cells.sort((p, q) => q.weight - p.weight);
  const assigned = new Map<number, number>();
  for (const cell of cells) {
    if (assigned.has(cell.voxel) || used.has(cell.world) || cell.weight === 0) continue;
    assigned.set(cell.voxel, cell.world);
    used.add(cell.world);
  }
  for (let voxel = 0; voxel < 3; voxel++) {
    const world = assigned.get(voxel);
    if (world === undefined) throw new Error('affine is singular: a voxel axis has no direction in world space');
    mapping.push({ world, sign: affine[world]![voxel]! >= 0 ? 1 : -1 });
  }
  return mapping;
}

/** Orientation code such as 'LAS' or 'RAS' for a voxel-to-world affine. */
export function orientationCode(affine: Affine): string {
  return axisMapping(affine)
    .map(({ world, sign }) => (sign > 0 ? POSITIVE[world] : NEGATIVE[world]))
    .join('');
}

function parseCode(code: string): { world: number; sign: 1 | -1 }[] {
  const upper = code.toUpperCase();
  if (upper.length !== 3) throw new Error(`orientation code "${code}" must have 3 letters, e.g. LAS`);
  const out = [...upper].map((ch) => {
    const p = POSITIVE.indexOf(ch as AxisCode);
    if (p >= 0) return { world: p, sign: 1 as const };
    const n = NEGATIVE.indexOf(ch as AxisCode);
    if (n >= 0) return { world: n, sign: -1 as const };
    throw new Error(`orientation code "${code}": unknown letter ${ch}`);
  });
  if (new Set(out.map((o) => o.world)).size !== 3) throw new Error(`orientation code "${code}" repeats an axis`);
  return out;
}

export interface Reorientation {
  /** For each target voxel axis t: the source voxel axis it reads and whether it is flipped. */
  axes: { source: number; flip: boolean }[];
  dims: [number, number, number];
  affine: Affine;
}

/**
 * How to turn a volume with `affine` and `dims` into the target orientation (default LAS, the
 * FSL MNI152 storage order our slice mapping is defined in). Pure index arithmetic: no
 * resampling, so voxel values are carried over exactly.
 */
export function planReorientation(affine: Affine, dims: readonly number[], target = 'LAS'): Reorientation {
  const source = axisMapping(affine);
  const wanted = parseCode(target);
  const axes = wanted.map(({ world, sign }) => {
    const s = source.findIndex((m) => m.world === world);
    return { source: s, flip: source[s]!.sign !== sign };
  });
  const newDims = axes.map((a) => dims[a.source]!) as [number, number, number];
  // new voxel index n maps to old index o: o[source_t] = flip ? (dim-1-n_t) : n_t.
  const transform: Affine = [
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 1],
  ];
  axes.forEach((a, t) => {
    transform[a.source]![t] = a.flip ? -1 : 1;
    if (a.flip) transform[a.source]![3] = newDims[t]! - 1;
  });
  return { axes, dims: newDims, affine: multiplyAffine(affine, transform) };
}

/** Reorders a Fortran-ordered 3D array (index = i + nx*(j + ny*k)) according to a plan. */
export function applyReorientation(data: Float32Array, dims: readonly number[], plan: Reorientation): Float32Array {
  const identity = plan.axes.every((a, t) => a.source === t && !a.flip);
  if (identity) return data;
  const [nx, ny, nz] = plan.dims;
  const srcStride = [1, dims[0]!, dims[0]! * dims[1]!];
  const out = new Float32Array(nx * ny * nz);
  const [a0, a1, a2] = plan.axes as [Reorientation['axes'][0], Reorientation['axes'][0], Reorientation['axes'][0]];
  const s0 = srcStride[a0.source]!;
  const s1 = srcStride[a1.source]!;
  const s2 = srcStride[a2.source]!;
  let o = 0;
  for (let k = 0; k < nz; k++) {
    const kk = a2.flip ? nz - 1 - k : k;
    for (let j = 0; j < ny; j++) {
      const jj = a1.flip ? ny - 1 - j : j;
      const base = kk * s2 + jj * s1;
      for (let i = 0; i < nx; i++) {
        const ii = a0.flip ? nx - 1 - i : i;
        out[o++] = data[base + ii * s0]!;
      }
    }
  }
  return out;
}

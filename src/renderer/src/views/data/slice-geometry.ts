/**
 * Axial slice geometry of a volume from its voxel-to-world (MNI mm) affine: which voxel axis runs
 * inferior-superior, voxel <-> mm, and the LAS slice index the prepared set uses (E's cache
 * stores z of the volume reoriented to LAS, where z grows towards superior).
 */
export type Affine = readonly (readonly number[])[];
export type Vec3 = [number, number, number];

/** The voxel axis (0, 1 or 2) with the largest contribution to world z. */
export function axialAxis(affine: Affine): 0 | 1 | 2 {
  const row = affine[2]!;
  let best: 0 | 1 | 2 = 2;
  for (const c of [0, 1, 2] as const) if (Math.abs(row[c]!) > Math.abs(row[best]!)) best = c;
  return best;
}

export function voxToMm(affine: Affine, vox: readonly number[]): Vec3 {
  const out: Vec3 = [0, 0, 0];
  for (let r = 0; r < 3; r++) {
    const row = affine[r]!;
    out[r] = row[0]! * vox[0]! + row[1]! * vox[1]! + row[2]! * vox[2]! + row[3]!;
  }
  return out;
}

export function mmToVox(affine: Affine, mm: readonly number[]): Vec3 {
  const [a, b, c] = [affine[0]!, affine[1]!, affine[2]!];
  const m = [
    [a[0]!, a[1]!, a[2]!],
    [b[0]!, b[1]!, b[2]!],
    [c[0]!, c[1]!, c[2]!],
  ] as const;
  const det =
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
  if (Math.abs(det) < 1e-12) throw new Error('singular affine');
  const inv = [
    [(m[1][1] * m[2][2] - m[1][2] * m[2][1]) / det, (m[0][2] * m[2][1] - m[0][1] * m[2][2]) / det, (m[0][1] * m[1][2] - m[0][2] * m[1][1]) / det],
    [(m[1][2] * m[2][0] - m[1][0] * m[2][2]) / det, (m[0][0] * m[2][2] - m[0][2] * m[2][0]) / det, (m[0][2] * m[1][0] - m[0][0] * m[1][2]) / det],
    [(m[1][0] * m[2][1] - m[1][1] * m[2][0]) / det, (m[0][1] * m[2][0] - m[0][0] * m[2][1]) / det, (m[0][0] * m[1][1] - m[0][1] * m[1][0]) / det],
  ];
  const d = [mm[0]! - a[3]!, mm[1]! - b[3]!, mm[2]! - c[3]!];
  return [0, 1, 2].map((r) => inv[r]![0]! * d[0]! + inv[r]![1]! * d[1]! + inv[r]![2]! * d[2]!) as Vec3;
}

/** Nearest voxel, clamped into the volume. */
export function roundVox(vox: readonly number[], dims: readonly number[]): Vec3 {
  return [0, 1, 2].map((i) => Math.min(dims[i]! - 1, Math.max(0, Math.round(vox[i]!)))) as Vec3;
}

/** World z (mm) of axial slice `z` (voxel index on the axial axis; other axes at 0). */
export function sliceMniZ(affine: Affine, z: number): number {
  const axis = axialAxis(affine);
  const row = affine[2]!;
  return row[axis]! * z + row[3]!;
}

/** The prepared cache's LAS z of native axial index `z` (flipped when the axis runs superior->inferior). */
export function toLasZ(affine: Affine, dims: readonly number[], z: number): number {
  const axis = axialAxis(affine);
  return affine[2]![axis]! > 0 ? z : dims[axis]! - 1 - z;
}

/** Moves voxel `vox` to axial index `z`, keeping the in-plane position. */
export function withAxialIndex(affine: Affine, vox: readonly number[], z: number): Vec3 {
  const out = [vox[0]!, vox[1]!, vox[2]!] as Vec3;
  out[axialAxis(affine)] = z;
  return out;
}

/** Contiguous runs of prepared indices, for drawing the strip compactly. */
export function runsOf(indices: readonly number[]): { start: number; stop: number }[] {
  const sorted = [...new Set(indices)].sort((a, b) => a - b);
  const runs: { start: number; stop: number }[] = [];
  for (const z of sorted) {
    const last = runs[runs.length - 1];
    if (last && last.stop === z) last.stop = z + 1;
    else runs.push({ start: z, stop: z + 1 });
  }
  return runs;
}

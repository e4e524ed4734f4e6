/**
 * Cropping a NIfTI-1 volume to a voxel box while keeping every voxel's world position: the box is
 * where a subject has signal (skull-stripped MNI volumes are ~half zeros). The viewer uploads and
 * re-blends every voxel of every layer on each load and window change, so the zeros around the
 * brain cost as much as the brain. Values are copied byte for byte; both the qform and the sform
 * origin move by the box's corner, so any reader places the cropped voxels where they were.
 */

/** Voxel box [x0, y0, z0, x1, y1, z1]: from the first to one past the last index on each axis. */
export type VoxelBox = [number, number, number, number, number, number];

/** The smallest box holding every non-zero (or NaN) voxel of a 3D volume in NIfTI order, or null if all are zero. */
export function signalBox(voxels: ArrayLike<number>, dims: readonly [number, number, number]): VoxelBox | null {
  const [nx, ny, nz] = dims;
  let x0 = nx;
  let y0 = ny;
  let z0 = nz;
  let x1 = -1;
  let y1 = -1;
  let z1 = -1;
  let i = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      let rowFirst = -1;
      let rowLast = -1;
      for (let x = 0; x < nx; x++, i++) {
        if (voxels[i] !== 0) {
          if (rowFirst < 0) rowFirst = x;
          rowLast = x;
        }
      }
      if (rowFirst < 0) continue;
      if (rowFirst < x0) x0 = rowFirst;
      if (rowLast > x1) x1 = rowLast;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      if (z < z0) z0 = z;
      z1 = z;
    }
  }
  return x1 < 0 ? null : [x0, y0, z0, x1 + 1, y1 + 1, z1 + 1];
}

/** The box holding all given boxes (nulls, i.e. empty volumes, ignored). */
export function unionBox(boxes: readonly (VoxelBox | null)[]): VoxelBox | null {
  let out: VoxelBox | null = null;
  for (const b of boxes) {
    if (!b) continue;
    out = out
      ? [Math.min(out[0], b[0]), Math.min(out[1], b[1]), Math.min(out[2], b[2]), Math.max(out[3], b[3]), Math.max(out[4], b[4]), Math.max(out[5], b[5])]
      : [...b];
  }
  return out;
}

/** The box grown by `margin` voxels on every side, within the grid. */
export function padBox(box: VoxelBox, margin: number, dims: readonly [number, number, number]): VoxelBox {
  return [
    Math.max(0, box[0] - margin),
    Math.max(0, box[1] - margin),
    Math.max(0, box[2] - margin),
    Math.min(dims[0], box[3] + margin),
    Math.min(dims[1], box[4] + margin),
    Math.min(dims[2], box[5] + margin),
  ];
}

const boxVoxels = (b: VoxelBox) => (b[3] - b[0]) * (b[4] - b[1]) * (b[5] - b[2]);

/** The NIfTI-1 quaternion rotation (3x3, rows), as the standard defines it from b, c, d. */
function quaternRotation(b: number, c: number, d: number): number[][] {
  const a = Math.sqrt(Math.max(0, 1 - (b * b + c * c + d * d)));
  return [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ];
}

/**
 * The uncompressed NIfTI-1 file `raw` cropped to `box`, or null when there is nothing to gain or
 * it cannot be done faithfully: NIfTI-2, more than one volume, no qform and no sform (the world
 * position is then the voxel index itself), or a box that is the whole grid.
 */
export function cropNifti(raw: ArrayBuffer, box: VoxelBox): ArrayBuffer | null {
  const view = new DataView(raw);
  const le = view.getInt32(0, true) === 348;
  if (!le && view.getInt32(0, false) !== 348) return null;
  const dim = (i: number) => view.getInt16(40 + 2 * i, le);
  const [nx, ny, nz] = [dim(1), dim(2), dim(3)];
  const ndim = dim(0);
  for (let i = 4; i <= Math.min(7, ndim); i++) if (dim(i) > 1) return null;
  const qformCode = view.getInt16(252, le);
  const sformCode = view.getInt16(254, le);
  if (qformCode <= 0 && sformCode <= 0) return null;
  const [x0, y0, z0, x1, y1, z1] = box;
  if (!(x0 >= 0 && y0 >= 0 && z0 >= 0 && x1 <= nx && y1 <= ny && z1 <= nz && x1 > x0 && y1 > y0 && z1 > z0)) return null;
  if (boxVoxels(box) === nx * ny * nz) return null;
  const bytesPerVoxel = view.getInt16(72, le) / 8;
  const voxOffset = Math.floor(view.getFloat32(108, le));
  if (!Number.isInteger(bytesPerVoxel) || bytesPerVoxel < 1 || raw.byteLength < voxOffset + nx * ny * nz * bytesPerVoxel) return null;

  const cx = x1 - x0;
  const cy = y1 - y0;
  const cz = z1 - z0;
  const out = new ArrayBuffer(voxOffset + cx * cy * cz * bytesPerVoxel);
  const outBytes = new Uint8Array(out);
  const inBytes = new Uint8Array(raw);
  outBytes.set(inBytes.subarray(0, voxOffset));
  const rowBytes = cx * bytesPerVoxel;
  let dst = voxOffset;
  for (let z = z0; z < z1; z++) {
    for (let y = y0; y < y1; y++) {
      const src = voxOffset + ((z * ny + y) * nx + x0) * bytesPerVoxel;
      outBytes.set(inBytes.subarray(src, src + rowBytes), dst);
      dst += rowBytes;
    }
  }

  const o = new DataView(out);
  o.setInt16(42, cx, le);
  o.setInt16(44, cy, le);
  o.setInt16(46, cz, le);
  // sform: the new origin is the old matrix applied to the box corner.
  for (let r = 0; r < 3; r++) {
    const at = 280 + 16 * r;
    const row = [0, 1, 2, 3].map((k) => view.getFloat32(at + 4 * k, le));
    o.setFloat32(at + 12, row[0]! * x0 + row[1]! * y0 + row[2]! * z0 + row[3]!, le);
  }
  // qform: offset += R * diag(dx, dy, qfac * dz) * corner.
  const R = quaternRotation(view.getFloat32(256, le), view.getFloat32(260, le), view.getFloat32(264, le));
  const qfac = view.getFloat32(76, le) < 0 ? -1 : 1;
  const step = [view.getFloat32(80, le) * x0, view.getFloat32(84, le) * y0, view.getFloat32(88, le) * qfac * z0];
  for (let r = 0; r < 3; r++) {
    const at = 268 + 4 * r;
    o.setFloat32(at, view.getFloat32(at, le) + R[r]![0]! * step[0]! + R[r]![1]! * step[1]! + R[r]![2]! * step[2]!, le);
  }
  return out;
}

/**
 * Voxels of margin kept around the signal: room for the orientation labels at the tile edges, and
 * the edge voxels stay zero, which is what NiiVue shows and reads out beyond the edge (it clamps).
 */
export const CROP_MARGIN = 5;

/**
 * The box to show volumes of one grid in: around all their signal, with CROP_MARGIN, or null when
 * that would save less than a fifth of the voxels (not worth a copy) or there is no signal.
 */
export function displayBox(signals: readonly (VoxelBox | null)[], dims: readonly [number, number, number]): VoxelBox | null {
  const union = unionBox(signals);
  if (!union) return null;
  const box = padBox(union, CROP_MARGIN, dims);
  return boxVoxels(box) <= 0.8 * dims[0] * dims[1] * dims[2] ? box : null;
}

/** Whether `inner` (null: no signal) lies within `outer`. */
export function boxWithin(inner: VoxelBox | null, outer: VoxelBox): boolean {
  return !inner || (inner[0] >= outer[0] && inner[1] >= outer[1] && inner[2] >= outer[2] && inner[3] <= outer[3] && inner[4] <= outer[4] && inner[5] <= outer[5]);
}

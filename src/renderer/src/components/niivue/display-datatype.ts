/**
 * The smallest NIfTI datatype that holds a volume's stored values exactly, and the NIfTI file
 * rewritten in it. The viewer uploads every layer to the GPU on each load and each window change;
 * a mask or an integer-valued volume stored as float32 (common after resampling tools) costs four
 * times the bytes of the uint8 it really is. Only exact conversions are made: each stored value
 * comes back equal (-0 as 0), the header's slope/intercept are kept, so displayed and read-out
 * intensities do not change.
 */
export const NIFTI_UINT8 = 2;
export const NIFTI_INT16 = 4;

const BYTES: Record<number, number> = { 2: 1, 4: 2, 8: 4, 16: 4, 64: 8, 256: 1, 512: 2, 768: 4 };

export type NarrowVoxels = { datatype: typeof NIFTI_UINT8; data: Uint8Array } | { datatype: typeof NIFTI_INT16; data: Int16Array };

/**
 * The voxels as uint8 or int16 when every value is an integer in that type's range and the type
 * is smaller than the current one (`datatype`, a NIfTI code); otherwise null.
 */
export function narrowLossless(voxels: ArrayLike<number>, datatype: number): NarrowVoxels | null {
  const currentBytes = BYTES[datatype];
  if (currentBytes === undefined || currentBytes <= 1) return null;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < voxels.length; i++) {
    const v = voxels[i]!;
    // Also rejects NaN and ±Infinity; -0 becomes 0, the same displayed and read-out value.
    if (!Number.isInteger(v)) return null;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (voxels.length === 0) return null;
  if (lo >= 0 && hi <= 255) return { datatype: NIFTI_UINT8, data: Uint8Array.from(voxels) };
  if (currentBytes > 2 && lo >= -32768 && hi <= 32767) return { datatype: NIFTI_INT16, data: Int16Array.from(voxels) };
  return null;
}

/**
 * A copy of the uncompressed NIfTI-1 or NIfTI-2 file `raw` (header and extensions kept byte for
 * byte) with its datatype, bitpix and voxel data replaced by `narrow`, in the file's byte order.
 */
export function rewriteNifti(raw: ArrayBuffer, narrow: NarrowVoxels, littleEndian: boolean, voxOffset: number): ArrayBuffer {
  const headerBytes = Math.floor(voxOffset);
  const out = new ArrayBuffer(headerBytes + narrow.data.byteLength);
  new Uint8Array(out).set(new Uint8Array(raw, 0, headerBytes));
  const view = new DataView(out);
  const nifti2 = view.getInt32(0, littleEndian) === 540;
  view.setInt16(nifti2 ? 12 : 70, narrow.datatype, littleEndian);
  view.setInt16(nifti2 ? 14 : 72, narrow.data.BYTES_PER_ELEMENT * 8, littleEndian);
  const hostLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  if (narrow.datatype === NIFTI_UINT8 || littleEndian === hostLittleEndian) {
    new Uint8Array(out, headerBytes).set(new Uint8Array(narrow.data.buffer, narrow.data.byteOffset, narrow.data.byteLength));
  } else {
    const data = narrow.data;
    for (let i = 0; i < data.length; i++) view.setInt16(headerBytes + 2 * i, data[i]!, littleEndian);
  }
  return out;
}

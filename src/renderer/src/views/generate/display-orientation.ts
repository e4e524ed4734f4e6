/**
 * The model's 160x224 slices are stored as the reference stores them: rows = voxel x (LAS, so x
 * grows towards the patient's left), columns = voxel y (posterior -> anterior), i.e. the brain
 * lies on its side. For reading, the view turns them upright in the neurological convention:
 * anterior at the top, the patient's left on the screen's left.
 *   display(row r', col c') = stored(row H-1-c', col W-1-r'),  display size W x H (224 tall, 160 wide).
 */
export function uprightPixels(rgba: Uint8ClampedArray, width: number, height: number): { data: Uint8ClampedArray<ArrayBuffer>; width: number; height: number } {
  const out = new Uint8ClampedArray(rgba.length);
  const outWidth = height;
  const outHeight = width;
  for (let r = 0; r < outHeight; r++) {
    for (let c = 0; c < outWidth; c++) {
      const src = ((height - 1 - c) * width + (width - 1 - r)) * 4;
      const dst = (r * outWidth + c) * 4;
      out[dst] = rgba[src]!;
      out[dst + 1] = rgba[src + 1]!;
      out[dst + 2] = rgba[src + 2]!;
      out[dst + 3] = rgba[src + 3]!;
    }
  }
  return { data: out, width: outWidth, height: outHeight };
}

/**
 * The brain of a FLAIR slice, as the region a synthetic T1w may have signal in.
 *
 * The inputs are skull-stripped and registered, so the real T1w and the FLAIR share one brain and
 * the T1w is 0 outside it. A sampled image is decoded at the model's size (half the grid's for
 * desktop models) and upsampled, so it bleeds a blurred rim and faint texture into the background;
 * zeroing what lies outside the FLAIR's brain gives the output the condition's sharp outline, as a
 * lookup table on the FLAIR gets for free (it maps 0 to 0).
 *
 * The brain is the FLAIR's non-zero pixels plus the zero pixels they enclose: percentile scaling
 * clips the darkest brain voxels (CSF in the ventricles) to 0, and those stay inside. Background is
 * the zero pixels 4-connected to the slice border.
 */

/** 1 inside the brain of one height x width FLAIR slice, 0 in its background. */
export function conditionBrainMask(flair: Float32Array, height: number, width: number): Uint8Array {
  const n = height * width;
  if (flair.length !== n) throw new Error(`brain mask: expected one ${height}x${width} slice (${n} values), got ${flair.length}`);
  const mask = new Uint8Array(n).fill(1);
  const stack = new Int32Array(n);
  let top = 0;
  const visit = (i: number) => {
    // Not above 0 (NaN included) and not yet marked background.
    if (mask[i] === 1 && !(flair[i]! > 0)) {
      mask[i] = 0;
      stack[top++] = i;
    }
  };
  for (let c = 0; c < width; c++) {
    visit(c);
    visit((height - 1) * width + c);
  }
  for (let r = 0; r < height; r++) {
    visit(r * width);
    visit(r * width + width - 1);
  }
  while (top > 0) {
    const i = stack[--top]!;
    const r = Math.floor(i / width);
    const c = i - r * width;
    if (r > 0) visit(i - width);
    if (r < height - 1) visit(i + width);
    if (c > 0) visit(i - 1);
    if (c < width - 1) visit(i + 1);
  }
  return mask;
}

/** Zeroes, in place, every pixel of `images` (count slices) outside its FLAIR slice's brain. */
export function maskToConditionBrain(images: Float32Array, flair: Float32Array, count: number, height: number, width: number): void {
  const n = height * width;
  if (images.length !== count * n || flair.length !== count * n) {
    throw new Error(`brain mask: expected ${count} images and ${count} FLAIR slices of ${height}x${width}, got ${images.length} and ${flair.length} values`);
  }
  for (let k = 0; k < count; k++) {
    const mask = conditionBrainMask(flair.subarray(k * n, (k + 1) * n), height, width);
    const off = k * n;
    for (let i = 0; i < n; i++) if (mask[i] === 0) images[off + i] = 0;
  }
}

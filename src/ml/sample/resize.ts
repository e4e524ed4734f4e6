/**
 * Moving slices between the 160x224 MNI slice grid (src/ml/data/slices.ts) and a model's own size.
 *
 * Down: box average over whole-number blocks, exactly what the trainers saw (loadPreparedSlices
 * box-averages the 160x224 cache to e.g. 80x112 for the desktop preset), so a model is always fed
 * the resolution and filtering it was trained on.
 * Up: bilinear interpolation with pixel centres aligned like PyTorch's align_corners=False (output
 * pixel i samples source coordinate (i + 0.5) / factor - 0.5, clamped at the borders). This is the
 * natural inverse of the box average: a constant block stays constant and a linear ramp stays a
 * ramp. Metrics and written volumes are always on the full 160x224 grid.
 * All arithmetic is plain JS on Float32Arrays (deterministic on every backend).
 */

export interface SliceSize {
  height: number;
  width: number;
}

function factors(from: SliceSize, to: SliceSize, what: string): [number, number] {
  const fy = from.height / to.height;
  const fx = from.width / to.width;
  if (!Number.isInteger(fy) || !Number.isInteger(fx) || fy < 1 || fx < 1) {
    throw new Error(`${what}: ${to.height}x${to.width} must divide ${from.height}x${from.width} by whole factors (e.g. 80x112 of 160x224)`);
  }
  return [fy, fx];
}

/** Box-averages `count` row-major images of size `from` to `to`. */
export function downsampleBox(images: Float32Array, count: number, from: SliceSize, to: SliceSize): Float32Array {
  const [fy, fx] = factors(from, to, 'downsample');
  if (fy === 1 && fx === 1) return images.slice();
  const inPx = from.height * from.width;
  const outPx = to.height * to.width;
  if (images.length !== count * inPx) throw new Error(`downsample: ${images.length} values are not ${count} images of ${from.height}x${from.width}`);
  const out = new Float32Array(count * outPx);
  const inv = 1 / (fy * fx);
  for (let n = 0; n < count; n++) {
    const src = n * inPx;
    const dst = n * outPx;
    for (let r = 0; r < to.height; r++) {
      for (let c = 0; c < to.width; c++) {
        let sum = 0;
        for (let dy = 0; dy < fy; dy++) {
          const row = src + (r * fy + dy) * from.width + c * fx;
          for (let dx = 0; dx < fx; dx++) sum += images[row + dx]!;
        }
        out[dst + r * to.width + c] = sum * inv;
      }
    }
  }
  return out;
}

/** Source index pair and weight for each output coordinate along one axis (align_corners=False). */
function axisTaps(outSize: number, factor: number, inSize: number): { i0: Int32Array; i1: Int32Array; w: Float64Array } {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const w = new Float64Array(outSize);
  for (let o = 0; o < outSize; o++) {
    const s = Math.min(Math.max((o + 0.5) / factor - 0.5, 0), inSize - 1);
    const a = Math.floor(s);
    i0[o] = a;
    i1[o] = Math.min(a + 1, inSize - 1);
    w[o] = s - a;
  }
  return { i0, i1, w };
}

/** Bilinearly upsamples `count` row-major images of size `from` to `to` (whole-number factors). */
export function upsampleBilinear(images: Float32Array, count: number, from: SliceSize, to: SliceSize): Float32Array {
  const [fy, fx] = factors(to, from, 'upsample');
  if (fy === 1 && fx === 1) return images.slice();
  const inPx = from.height * from.width;
  const outPx = to.height * to.width;
  if (images.length !== count * inPx) throw new Error(`upsample: ${images.length} values are not ${count} images of ${from.height}x${from.width}`);
  const rows = axisTaps(to.height, fy, from.height);
  const cols = axisTaps(to.width, fx, from.width);
  const out = new Float32Array(count * outPx);
  for (let n = 0; n < count; n++) {
    const src = n * inPx;
    const dst = n * outPx;
    for (let r = 0; r < to.height; r++) {
      const a = src + rows.i0[r]! * from.width;
      const b = src + rows.i1[r]! * from.width;
      const wy = rows.w[r]!;
      for (let c = 0; c < to.width; c++) {
        const c0 = cols.i0[c]!;
        const c1 = cols.i1[c]!;
        const wx = cols.w[c]!;
        const top = images[a + c0]! * (1 - wx) + images[a + c1]! * wx;
        const bottom = images[b + c0]! * (1 - wx) + images[b + c1]! * wx;
        out[dst + r * to.width + c] = top * (1 - wy) + bottom * wy;
      }
    }
  }
  return out;
}

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

export interface RgbaImage {
  data: Uint8ClampedArray<ArrayBuffer>;
  width: number;
  height: number;
}

/**
 * Splits a row of `count` equal tiles separated by `gap` pixels (the evaluation's FLAIR |
 * generated | real T1w triple, written by src/ml/io/png.ts tileImages with gap 2).
 */
export function splitTiles(rgba: Uint8ClampedArray, width: number, height: number, count = 3, gap = 2): RgbaImage[] {
  const tileWidth = (width - (count - 1) * gap) / count;
  if (!Number.isInteger(tileWidth) || tileWidth <= 0) throw new Error(`a ${width}x${height} image is not ${count} tiles with ${gap}-pixel gaps`);
  return Array.from({ length: count }, (_, k) => {
    const x0 = k * (tileWidth + gap);
    const out = new Uint8ClampedArray(tileWidth * height * 4);
    for (let r = 0; r < height; r++) out.set(rgba.subarray((r * width + x0) * 4, (r * width + x0 + tileWidth) * 4), r * tileWidth * 4);
    return { data: out, width: tileWidth, height };
  });
}

/** |a - b| per pixel of two grey images of the same size (opaque grey result). */
export function absDiffGrey(a: RgbaImage, b: RgbaImage): RgbaImage {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`image sizes differ: ${a.width}x${a.height} vs ${b.width}x${b.height}`);
  const out = new Uint8ClampedArray(a.data.length);
  for (let i = 0; i < out.length; i += 4) {
    const d = Math.abs(a.data[i]! - b.data[i]!);
    out[i] = out[i + 1] = out[i + 2] = d;
    out[i + 3] = 255;
  }
  return { data: out, width: a.width, height: a.height };
}

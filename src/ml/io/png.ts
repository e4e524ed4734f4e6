import { PNG } from 'pngjs';
import { writeFileAtomic } from './atomic-write';

/**
 * Grayscale images (validation figures, generated slices) as 8-bit grayscale-looking PNGs (RGB, pngjs): values are clipped to [0, 1],
 * multiplied by 255 and truncated, as the reference does for its sample images.
 */

export interface GrayImage {
  height: number;
  width: number;
  /** row-major values, nominally [0, 1] */
  data: Float32Array;
}

/**
 * A model slice turned upright for reading. Slices are stored as the reference stores them:
 * rows = voxel x (towards the patient's left), columns = voxel y (posterior -> anterior), so the
 * brain lies on its side. Upright is the neurological convention: anterior at the top, the
 * patient's left on the left. out(r, c) = in(H-1-c, W-1-r); the result is H wide and W tall.
 */
export function uprightGray(img: GrayImage): GrayImage {
  const { height: H, width: W, data } = img;
  const out = new Float32Array(H * W);
  for (let r = 0; r < W; r++) {
    for (let c = 0; c < H; c++) out[r * H + c] = data[(H - 1 - c) * W + (W - 1 - r)]!;
  }
  return { height: W, width: H, data: out };
}

/** Tiles images into a grid of `columns` columns (each row of the grid is one example). */
export function tileImages(rows: GrayImage[][], gap = 2): GrayImage {
  const h = Math.max(...rows.flat().map((i) => i.height));
  const w = Math.max(...rows.flat().map((i) => i.width));
  const cols = Math.max(...rows.map((r) => r.length));
  const H = rows.length * h + (rows.length - 1) * gap;
  const W = cols * w + (cols - 1) * gap;
  const out = new Float32Array(H * W).fill(1);
  rows.forEach((row, ri) => {
    row.forEach((img, ci) => {
      const y0 = ri * (h + gap);
      const x0 = ci * (w + gap);
      for (let r = 0; r < img.height; r++) {
        for (let c = 0; c < img.width; c++) out[(y0 + r) * W + x0 + c] = img.data[r * img.width + c]!;
      }
    });
  });
  return { height: H, width: W, data: out };
}

export function encodePng(img: GrayImage): Buffer {
  const png = new PNG({ width: img.width, height: img.height, colorType: 0, inputColorType: 0, bitDepth: 8 });
  const buf = Buffer.alloc(img.width * img.height);
  for (let i = 0; i < buf.length; i++) {
    const v = img.data[i]!;
    buf[i] = Math.floor(Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)) * 255);
  }
  // pngjs takes RGBA input unless told otherwise; expand to RGBA for portability across versions.
  const rgba = Buffer.alloc(buf.length * 4);
  for (let i = 0; i < buf.length; i++) {
    rgba[4 * i] = buf[i]!;
    rgba[4 * i + 1] = buf[i]!;
    rgba[4 * i + 2] = buf[i]!;
    rgba[4 * i + 3] = 255;
  }
  png.data = rgba;
  return PNG.sync.write(png, { colorType: 0 });
}

export function writePng(path: string, img: GrayImage): void {
  writeFileAtomic(path, encodePng(img));
}

/** Splits a flat [B, H, W] array into per-example images. */
export function splitBatch(data: Float32Array, batch: number, height: number, width: number): GrayImage[] {
  const px = height * width;
  return Array.from({ length: batch }, (_, b) => ({ height, width, data: data.slice(b * px, (b + 1) * px) }));
}

/**
 * Image batches for metrics: plain row-major float arrays shaped [B, H, W] or [B, C, H, W]
 * (fast, deterministic JS; no tf). Values are expected in [0, dataRange].
 */

export interface ImageBatch {
  data: Float32Array | Float64Array;
  shape: readonly number[];
}

export interface BatchLayout {
  batch: number;
  channels: number;
  height: number;
  width: number;
  /** channels * height * width */
  imageSize: number;
}

export function layoutOf(images: ImageBatch, what = 'images'): BatchLayout {
  const { shape, data } = images;
  if (shape.length !== 3 && shape.length !== 4) {
    throw new Error(`${what}: expected shape [B,H,W] or [B,C,H,W], got [${shape.join(',')}]`);
  }
  const [batch, channels, height, width] = shape.length === 3 ? [shape[0], 1, shape[1], shape[2]] : shape;
  if (![batch, channels, height, width].every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`${what}: every dimension must be a positive integer, got [${shape.join(',')}]`);
  }
  const imageSize = channels * height * width;
  if (data.length !== batch * imageSize) {
    throw new Error(`${what}: shape [${shape.join(',')}] needs ${batch * imageSize} values, got ${data.length}`);
  }
  return { batch, channels, height, width, imageSize };
}

/** The common layout of a prediction and its target (they must match exactly). */
export function pairLayout(pred: ImageBatch, target: ImageBatch): BatchLayout {
  const a = layoutOf(pred, 'prediction');
  const b = layoutOf(target, 'target');
  if (a.batch !== b.batch || a.channels !== b.channels || a.height !== b.height || a.width !== b.width) {
    throw new Error(`prediction [${pred.shape.join(',')}] and target [${target.shape.join(',')}] differ in shape`);
  }
  return a;
}

/** One [H, W] image (or [C, H, W] when channels > 1) out of a batch, without copying. */
export function imageAt(images: ImageBatch, index: number): ImageBatch {
  const l = layoutOf(images);
  const data = images.data.subarray(index * l.imageSize, (index + 1) * l.imageSize);
  return { data, shape: [1, l.channels, l.height, l.width] };
}

/** Stack same-sized [H, W] images into a [B, H, W] batch. */
export function stackImages(images: ArrayLike<number>[], height: number, width: number): ImageBatch {
  const size = height * width;
  const data = new Float32Array(images.length * size);
  images.forEach((img, i) => {
    if (img.length !== size) throw new Error(`image ${i} has ${img.length} pixels, expected ${height}x${width} = ${size}`);
    data.set(img, i * size);
  });
  return { data, shape: [images.length, height, width] };
}

import * as tf from '@tensorflow/tfjs';

/**
 * Gradients tfjs 4.22 lacks or gets wrong (gradients are global, not per backend):
 * - Maximum, Minimum, SquaredDifference: no reduction over broadcast dimensions, so backprop
 *   fails ("gradient of input 'b' has shape ...") when one operand is broadcast.
 * - StridedSlice: no gradient at all.
 * - Comparisons (Greater, Less, Equal, ...): no gradient, so a tf.where mask computed from a
 *   differentiated tensor aborts backprop. Their true gradient is zero (TensorFlow's None).
 */

/** Sums a full-size gradient back to an operand's (broadcast) shape. */
export function sumToShape(t: tf.Tensor, shape: number[]): tf.Tensor {
  if (t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i])) return t;
  const axes = tf.backend_util.getReductionAxes(shape, t.shape);
  const reduced = axes.length > 0 ? tf.sum(t, axes, true) : t;
  return tf.reshape(reduced, shape);
}

function binaryGrad(kernelName: string, da: (dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => tf.Tensor, db: (dy: tf.Tensor, a: tf.Tensor, b: tf.Tensor) => tf.Tensor): tf.GradConfig {
  return {
    kernelName,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved) => {
      const [a, b] = saved;
      const g = dy as tf.Tensor;
      return { a: () => sumToShape(da(g, a, b), a.shape), b: () => sumToShape(db(g, a, b), b.shape) };
    },
  };
}

// Ties go to `a`, as in tfjs's own gradients.
export const maximumGrad = binaryGrad(
  tf.Maximum,
  (dy, a, b) => tf.mul(dy, tf.cast(tf.greaterEqual(a, b), 'float32')),
  (dy, a, b) => tf.mul(dy, tf.cast(tf.less(a, b), 'float32')),
);

export const minimumGrad = binaryGrad(
  tf.Minimum,
  (dy, a, b) => tf.mul(dy, tf.cast(tf.lessEqual(a, b), 'float32')),
  (dy, a, b) => tf.mul(dy, tf.cast(tf.greater(a, b), 'float32')),
);

export const squaredDifferenceGrad = binaryGrad(
  tf.SquaredDifference,
  (dy, a, b) => tf.mul(dy, tf.mul(tf.sub(a, b), 2)),
  (dy, a, b) => tf.mul(dy, tf.mul(tf.sub(b, a), 2)),
);

/**
 * StridedSlice gradient: dy scattered back to the positions begin + stride·i of each axis (zero
 * elsewhere), built from reshape/pad/slice so it runs on every backend. Negative strides are not
 * supported (network code never uses them).
 */
export const stridedSliceGrad: tf.GradConfig = {
  kernelName: tf.StridedSlice,
  inputsToSave: ['x'],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const a = attrs as unknown as tf.StridedSliceAttrs;
    return {
      x: () => {
        const info = tf.slice_util.sliceInfo(x.shape, a.begin, a.end, a.strides, a.beginMask, a.endMask, a.ellipsisMask, a.newAxisMask, a.shrinkAxisMask);
        const { begin, end, strides } = info;
        if (strides.some((s) => s <= 0)) throw new Error('StridedSlice gradient: negative strides are not supported');
        const counts = x.shape.map((d, i) => Math.max(0, Math.ceil((Math.min(end[i], d) - begin[i]) / strides[i])));
        let g = tf.reshape(dy as tf.Tensor, counts);
        for (let axis = 0; axis < x.rank; axis++) {
          const s = strides[axis];
          const n = counts[axis];
          if (s > 1 && n > 0) {
            // Interleave s-1 zeros after every element along `axis`, then drop the trailing ones.
            const expanded = tf.expandDims(g, axis + 1);
            const padSpec = expanded.shape.map((_, i) => (i === axis + 1 ? [0, s - 1] : [0, 0]) as [number, number]);
            const shape = [...g.shape];
            shape[axis] = n * s;
            const spread = tf.reshape(tf.pad(expanded, padSpec), shape);
            const size = [...shape];
            size[axis] = (n - 1) * s + 1;
            g = tf.slice(spread, new Array(shape.length).fill(0), size);
          }
        }
        const pads = x.shape.map((d, i) => [begin[i], d - begin[i] - g.shape[i]] as [number, number]);
        return tf.pad(g, pads);
      },
    };
  },
};

function zeroGrad(kernelName: string): tf.GradConfig {
  return {
    kernelName,
    inputsToSave: ['a', 'b'],
    gradFunc: (_dy, saved) => {
      const [a, b] = saved;
      return { a: () => tf.zerosLike(a), b: () => tf.zerosLike(b) };
    },
  };
}

const COMPARISONS = [tf.Greater, tf.GreaterEqual, tf.Less, tf.LessEqual, tf.Equal, tf.NotEqual];

export const GRADIENT_FIXES: tf.GradConfig[] = [maximumGrad, minimumGrad, squaredDifferenceGrad, stridedSliceGrad, ...COMPARISONS.map(zeroGrad)];

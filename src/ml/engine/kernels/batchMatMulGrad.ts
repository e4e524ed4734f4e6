import * as tf from '@tensorflow/tfjs';

/**
 * BatchMatMul gradient that reduces over broadcast batch dimensions. tfjs 4.22's gradient returns
 * the un-reduced [B, k, n] gradient for a shared [1, k, n] (or 2-D) right operand and backprop
 * then fails (or, for 2-D, mis-shapes). Gradients are global, so this applies to every backend.
 */
function sumToShape(t: tf.Tensor, shape: number[]): tf.Tensor {
  if (t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i])) return t;
  const axes = tf.backend_util.getReductionAxes(shape, t.shape);
  const reduced = axes.length > 0 ? tf.sum(t, axes, true) : t;
  return tf.reshape(reduced, shape);
}

export const batchMatMulGrad: tf.GradConfig = {
  kernelName: tf.BatchMatMul,
  inputsToSave: ['a', 'b'],
  gradFunc: (dy, saved, attrs) => {
    const [a, b] = saved;
    const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
    const g = dy as tf.Tensor;
    const da = (): tf.Tensor => {
      if (!transposeA && !transposeB) return tf.matMul(g, b, false, true);
      if (!transposeA && transposeB) return tf.matMul(g, b, false, false);
      if (transposeA && !transposeB) return tf.matMul(b, g, false, true);
      return tf.matMul(b, g, true, true);
    };
    const db = (): tf.Tensor => {
      if (!transposeA && !transposeB) return tf.matMul(a, g, true, false);
      if (!transposeA && transposeB) return tf.matMul(g, a, true, false);
      if (transposeA && !transposeB) return tf.matMul(a, g, false, false);
      return tf.matMul(g, a, true, true);
    };
    return { a: () => sumToShape(da(), a.shape), b: () => sumToShape(db(), b.shape) };
  },
};

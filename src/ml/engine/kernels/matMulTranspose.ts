import * as tf from '@tensorflow/tfjs';
import { composite, need } from './composite';

/**
 * wasm's BatchMatMul / _FusedMatMul reach XNNPACK only for one untransposed 2-D product; the
 * transposed and batched forms fall back to a scalar loop (measured 512³: 22 GFLOP/s plain, 0.9
 * with transposeA, 1.5 with transposeB; batch 8 x 256x64x256: 0.5 GFLOP/s). Every matMul
 * gradient uses a transposed form and attention uses batched ones, so this wrapper
 *   - materialises transposes (memory-bound, cheap) and calls the stock kernel untransposed,
 *   - folds a batched left operand times a shared right operand into one tall 2-D product,
 *   - runs equal-batch products as one 2-D product per batch entry.
 */
/** Per-entry size below which batched products stay on the stock kernel (measured crossover). */
const SMALL_PRODUCT_FLOPS = 5e5;

function prod(dims: number[]): number {
  return dims.reduce((p, d) => p * d, 1);
}

function sameDims(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function untransposedMatMulKernel(stock: tf.KernelConfig): tf.KernelConfig {
  const fused = stock.kernelName === tf._FusedMatMul;
  return {
    kernelName: stock.kernelName,
    backendName: stock.backendName,
    // wasm binds its C++ entry points in setupFunc when the backend initialises.
    setupFunc: stock.setupFunc,
    disposeFunc: stock.disposeFunc,
    kernelFunc: (args) => {
      const attrs = args.attrs as unknown as tf.BatchMatMulAttrs;
      const a0 = need(args.inputs, 'a', stock.kernelName);
      const b0 = need(args.inputs, 'b', stock.kernelName);
      const batchDimsA = a0.shape.slice(0, -2);
      const batchDimsB = b0.shape.slice(0, -2);
      const batchA = prod(batchDimsA);
      const batchB = prod(batchDimsB);
      if (!attrs.transposeA && !attrs.transposeB && batchA <= 1 && batchB <= 1) return stock.kernelFunc(args);
      if (batchA > 1 && batchB > 1) {
        // Each fast-path product pays ~0.1-0.4 ms of XNNPACK operator setup; for tiny per-entry
        // products (attention over few tokens) the stock loop is cheaper than a per-entry loop.
        const [ra, ca] = a0.shape.slice(-2);
        const [rb, cb] = b0.shape.slice(-2);
        const m = attrs.transposeA ? ca : ra;
        const k = attrs.transposeA ? ra : ca;
        const n = attrs.transposeB ? rb : cb;
        if (2 * m * k * n < SMALL_PRODUCT_FLOPS) return stock.kernelFunc(args);
      }
      const backend = args.backend as tf.KernelBackend;
      const bias = args.inputs.bias;
      const prelu = args.inputs.preluActivationWeights;
      return composite(backend, [a0, b0], (a, b) => {
        const run = (x: tf.Tensor, y: tf.Tensor): tf.Tensor => {
          const out = stock.kernelFunc({
            ...args,
            inputs: { ...args.inputs, a: x, b: y },
            attrs: { ...args.attrs, transposeA: false, transposeB: false },
          }) as tf.TensorInfo;
          return tf.engine().makeTensorFromTensorInfo(out, backend);
        };
        const swapLast = (t: tf.Tensor): tf.Tensor => {
          const perm = [...Array(t.rank).keys()];
          perm[t.rank - 1] = t.rank - 2;
          perm[t.rank - 2] = t.rank - 1;
          return tf.transpose(t, perm);
        };
        const at = attrs.transposeA ? swapLast(a) : a;
        const bt = attrs.transposeB ? swapLast(b) : b;
        const [m, k] = at.shape.slice(-2);
        const n = bt.shape[bt.rank - 1];
        if (batchA <= 1 && batchB <= 1) return run(at, bt);
        const outBatch = tf.broadcast_util.assertAndGetBroadcastShape(batchDimsA, batchDimsB);
        const foldable = !fused || (!prelu && (!bias || bias.shape.length <= 1));
        if (batchB === 1 && foldable) {
          const out = run(at.reshape([1, batchA * m, k]), bt.reshape([1, k, n]));
          return out.reshape([...outBatch, m, n]);
        }
        if (!fused && sameDims(batchDimsA, batchDimsB)) {
          const a3 = at.reshape([batchA, m, k]);
          const b3 = bt.reshape([batchB, k, n]);
          const parts: tf.Tensor[] = [];
          for (let i = 0; i < batchA; i++) {
            parts.push(run(tf.slice(a3, [i, 0, 0], [1, m, k]), tf.slice(b3, [i, 0, 0], [1, k, n])));
          }
          return tf.concat(parts, 0).reshape([...outBatch, m, n]);
        }
        return run(at, bt);
      });
    },
  };
}

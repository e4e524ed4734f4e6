import * as tf from '@tensorflow/tfjs';
import { need } from './composite';

/**
 * wasm Slice without copying the input (and SplitV, Identity likewise below): the stock kernel reads its whole input out of the wasm
 * heap (readSync copies it) on every call, so n slices of one tensor cost n full copies. Splitting
 * a flattened parameter group back into its ~300 tensors took seconds that way. This kernel copies
 * only the slice, row by row, from a view of the heap.
 */

/** The parts of the wasm backend this kernel uses (not in tfjs's public typings). */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
}

export function sliceWasmKernel(stock: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: tf.Slice,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const x = need(args.inputs, 'x', tf.Slice);
      if (x.dtype === 'string') return stock.kernelFunc(args);
      const { begin, size } = args.attrs as unknown as tf.SliceAttrs;
      const [b, s] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size);
      const backend = args.backend as unknown as WasmHeapBackend;
      const out = backend.makeOutput(s, x.dtype);
      const total = tf.util.sizeFromShape(s);
      if (total === 0) return out;
      // Views taken after makeOutput: growing the heap may replace its buffer.
      const src = backend.typedArrayFromHeap(x);
      const dst = backend.typedArrayFromHeap(out);
      copySlice(src, x.shape, b, s, dst);
      return out;
    },
  };
}

/** Copies the box `begin` + `size` of a row-major `shape` array into `dst`, one inner row at a time. */
export function copySlice(src: ArrayLike<number> & { subarray(a: number, b: number): ArrayLike<number> }, shape: number[], begin: number[], size: number[], dst: { set(a: ArrayLike<number>, offset: number): void }): void {
  const rank = shape.length;
  if (rank === 0) {
    dst.set(src.subarray(0, 1), 0);
    return;
  }
  const strides = tf.util.computeStrides(shape);
  // Trailing dimensions taken whole merge into one contiguous run.
  let inner = rank - 1;
  while (inner > 0 && begin[inner] === 0 && size[inner] === shape[inner]) inner--;
  const run = size.slice(inner).reduce((p, d) => p * d, 1);
  const innerStride = inner === rank - 1 ? 1 : strides[inner]!;
  const base = begin[inner]! * innerStride;
  const rows = size.slice(0, inner).reduce((p, d) => p * d, 1);
  const idx = new Array<number>(inner).fill(0);
  let o = 0;
  for (let r = 0; r < rows; r++) {
    let off = base;
    for (let d = 0; d < inner; d++) off += (begin[d]! + idx[d]!) * strides[d]!;
    dst.set(src.subarray(off, off + run), o);
    o += run;
    for (let d = inner - 1; d >= 0; d--) {
      if (++idx[d]! < size[d]!) break;
      idx[d] = 0;
    }
  }
}

/** wasm SplitV through the slice above (the stock one calls the stock, copying Slice per part). */
export function splitVWasmKernel(stock: tf.KernelConfig, slice: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: tf.SplitV,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const x = need(args.inputs, 'x', tf.SplitV);
      if (x.dtype === 'string') return stock.kernelFunc(args);
      const { numOrSizeSplits, axis } = args.attrs as unknown as tf.SplitVAttrs;
      const ax = tf.util.parseAxisParam(axis, x.shape)[0]!;
      const sizes = tf.backend_util.prepareSplitSize(x as tf.Tensor, numOrSizeSplits, ax);
      const begin = new Array<number>(x.shape.length).fill(0);
      return sizes.map((s) => {
        const size = x.shape.slice();
        size[ax] = s;
        const part = slice.kernelFunc({ inputs: { x }, backend: args.backend, attrs: { begin: begin.slice(), size } }) as tf.TensorInfo;
        begin[ax]! += s;
        return part;
      });
    },
  };
}

/**
 * wasm Identity sharing the input's data (reference-counted, as Reshape and the cpu backend do)
 * instead of copying it: autodiff passes most gradients through Identity, ~230 full copies per
 * autoencoder step. Kernels never write into their inputs, so sharing is safe.
 */
export function identityWasmKernel(stock: tf.KernelConfig): tf.KernelConfig {
  return {
    kernelName: tf.Identity,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const x = need(args.inputs, 'x', tf.Identity);
      if (x.dtype === 'string') return stock.kernelFunc(args);
      (args.backend as tf.KernelBackend).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
    },
  };
}

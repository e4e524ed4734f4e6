import * as tf from '@tensorflow/tfjs';
import { conv2dBackpropFilterKernel } from './conv2dBackpropFilter';
import { need, readSyncValues } from './composite';

/**
 * cpu Conv2D weight gradient as typed-array loops: for every output pixel, the outer product of
 * the input pixel under each tap with dy accumulates into dW (inner loop over Cout, contiguous).
 * The stock cpu kernel is correct but goes through TensorBuffer.get per element (~1000x slower),
 * and cpu's conv2d is too slow for the conv-based composition used on wasm.
 */
export function conv2dFilterGradCpu(
  xv: Float32Array | Int32Array,
  xShape: [number, number, number, number],
  dyv: Float32Array | Int32Array,
  filterShape: [number, number, number, number],
  strides: number | [number, number],
  pad: tf.Conv2DBackpropFilterAttrs['pad'],
  dimRoundingMode?: tf.Conv2DBackpropFilterAttrs['dimRoundingMode'],
): Float32Array {
  const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw, outHeight: ho, outWidth: wo } = info;
  const { top, left } = info.padInfo;
  const [n, h, w, cin] = xShape;
  const cout = filterShape[3];
  if (dyv.length !== n * ho * wo * cout) {
    throw new Error(`Conv2DBackpropFilter: dy has ${dyv.length} values, expected [${n},${ho},${wo},${cout}]`);
  }
  const dw = new Float64Array(kh * kw * cin * cout);
  for (let b = 0; b < n; b++) {
    for (let y = 0; y < ho; y++) {
      for (let xo = 0; xo < wo; xo++) {
        const dyOff = ((b * ho + y) * wo + xo) * cout;
        for (let i = 0; i < kh; i++) {
          const iy = y * sh + i - top;
          if (iy < 0 || iy >= h) continue;
          for (let j = 0; j < kw; j++) {
            const ix = xo * sw + j - left;
            if (ix < 0 || ix >= w) continue;
            const xOff = ((b * h + iy) * w + ix) * cin;
            const wOff = (i * kw + j) * cin * cout;
            for (let c = 0; c < cin; c++) {
              const xval = xv[xOff + c];
              if (xval === 0) continue;
              const row = wOff + c * cout;
              for (let o = 0; o < cout; o++) dw[row + o] += xval * dyv[dyOff + o];
            }
          }
        }
      }
    }
  }
  return Float32Array.from(dw);
}

export function conv2dBackpropFilterCpuKernel(backendName: string): tf.KernelConfig {
  const composed = conv2dBackpropFilterKernel(backendName);
  return {
    kernelName: tf.Conv2DBackpropFilter,
    backendName,
    kernelFunc: (args) => {
      const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
      if (dataFormat === 'NCHW') return composed.kernelFunc(args);
      const x = need(args.inputs, 'x', tf.Conv2DBackpropFilter);
      const dy = need(args.inputs, 'dy', tf.Conv2DBackpropFilter);
      const backend = args.backend as tf.KernelBackend;
      const dw = conv2dFilterGradCpu(
        readSyncValues(backend, x), x.shape as [number, number, number, number],
        readSyncValues(backend, dy), filterShape, strides, pad, dimRoundingMode,
      );
      return tf.tensor4d(dw, filterShape);
    },
  };
}

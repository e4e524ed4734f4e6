import * as tf from '@tensorflow/tfjs';
import { composite, need } from './composite';

/**
 * Conv2D weight gradient as one forward convolution, so it runs on the backend's fast conv
 * (XNNPACK on wasm; stock wasm has no kernel at all, stock cpu loops per element ~1000x slower):
 *   dW[i,j,c,o] = Σ_{b,y,x} x[b, s·y+i−p, s·x+j−p, c] · dy[b,y,x,o]
 * is a convolution of x viewed as [Cin, H, W, N] (batch ↔ channels) with dy viewed as a
 * [Ho, Wo, N, Cout] filter, dilated by the stride; its [Cin, kh, kw, Cout] output is dW.
 * Measured on wasm this beats im2col + matMul ~3x (strided slices and concats are slow there).
 */

type ConvPad = tf.Conv2DBackpropFilterAttrs['pad'];
type Rounding = tf.Conv2DBackpropFilterAttrs['dimRoundingMode'];

export function conv2dFilterGradNHWC(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: number | [number, number],
  pad: ConvPad,
  dimRoundingMode?: Rounding,
): tf.Tensor4D {
  const info = tf.backend_util.computeConv2DInfo(x.shape, filterShape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw, outHeight: ho, outWidth: wo } = info;
  const [n, h, w, cin] = x.shape;
  const cout = filterShape[3];
  if (dy.shape[0] !== n || dy.shape[1] !== ho || dy.shape[2] !== wo || dy.shape[3] !== cout) {
    throw new Error(`Conv2DBackpropFilter: dy shape ${JSON.stringify(dy.shape)} does not match the convolution output [${n},${ho},${wo},${cout}]`);
  }
  const { top, left } = info.padInfo;
  // Bottom/right padding so the "output" is exactly kh x kw; negative means trailing input rows
  // or columns that no tap reaches (e.g. 'valid' with stride 2 on an even size): crop them.
  const bottom = kh + sh * (ho - 1) - (h + top);
  const right = kw + sw * (wo - 1) - (w + left);
  return tf.tidy(() => {
    const xc = bottom < 0 || right < 0 ? tf.slice(x, [0, 0, 0, 0], [n, h + Math.min(0, bottom), w + Math.min(0, right), cin]) : x;
    const xt = tf.transpose(xc, [3, 1, 2, 0]) as tf.Tensor4D;
    const dyt = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D;
    const padding: [[number, number], [number, number], [number, number], [number, number]] = [
      [0, 0], [top, Math.max(0, bottom)], [left, Math.max(0, right)], [0, 0],
    ];
    const out = tf.conv2d(xt, dyt, 1, padding, 'NHWC', [sh, sw]);
    return tf.transpose(out, [1, 2, 0, 3]) as tf.Tensor4D;
  });
}

export function conv2dBackpropFilterKernel(backendName: string): tf.KernelConfig {
  return {
    kernelName: tf.Conv2DBackpropFilter,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const x = need(inputs, 'x', tf.Conv2DBackpropFilter);
      const dy = need(inputs, 'dy', tf.Conv2DBackpropFilter);
      const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
      return composite(backend as tf.KernelBackend, [x, dy], (xt, dyt) => {
        const nchw = dataFormat === 'NCHW';
        const x4 = (nchw ? tf.transpose(xt, [0, 2, 3, 1]) : xt) as tf.Tensor4D;
        const dy4 = (nchw ? tf.transpose(dyt, [0, 2, 3, 1]) : dyt) as tf.Tensor4D;
        return conv2dFilterGradNHWC(x4, dy4, filterShape, strides, pad, dimRoundingMode);
      });
    },
  };
}

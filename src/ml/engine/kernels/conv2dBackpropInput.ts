import * as tf from '@tensorflow/tfjs';
import { composite, need, pair } from './composite';

/**
 * Conv2D input gradient (transposed convolution) as stride-1 convolutions, so it runs on the
 * backend's fast forward conv (wasm's own Conv2DBackpropInput is a scalar loop, ~10x slower).
 *
 * Forward: y[o] = Σ_i x[s·o + i − p]·W[i]. For a stride s the input rows split into s phases
 * r = (h + p) mod s; phase r only sees taps i = r + s·m, and with q = (h + p − r)/s
 *   dx[h] = Σ_m dy[q − m]·W[r + s·m],
 * a stride-1 correlation of dy with the reversed sub-kernel. Interleaving the (row, column) phase
 * outputs and cropping the padding gives dx. Unlike zero-inserting dy, no multiply is spent on
 * inserted zeros (only on the few zero taps that align phases of unequal size).
 */

type ConvPad = tf.Conv2DBackpropInputAttrs['pad'];
type Rounding = tf.Conv2DBackpropInputAttrs['dimRoundingMode'];

export function conv2dInputGradNHWC(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  strides: number | [number, number],
  pad: ConvPad,
  dimRoundingMode?: Rounding,
): tf.Tensor4D {
  const info = tf.backend_util.computeConv2DInfo(inputShape, filter.shape, strides, 1, pad, dimRoundingMode, false, 'channelsLast');
  const [sh, sw] = pair(strides);
  const { filterHeight: kh, filterWidth: kw, outHeight: ho, outWidth: wo } = info;
  const { top, left } = info.padInfo;
  const [n, h, w, cin] = inputShape;
  const cout = filter.shape[3];
  if (dy.shape[1] !== ho || dy.shape[2] !== wo || dy.shape[3] !== cout) {
    throw new Error(`Conv2DBackpropInput: dy shape ${JSON.stringify(dy.shape)} does not match the convolution output [${n},${ho},${wo},${cout}]`);
  }
  const qh = Math.ceil((h + top) / sh);
  const qw = Math.ceil((w + left) / sw);

  // All phases run as ONE conv: their reversed sub-kernels, front-padded to a common size,
  // are stacked along output channels (wasm pays ~1 ms per conv call for operator setup, more
  // than the zero taps cost). The filter is tiny, so it is built on the host.
  const kmh = Math.ceil(kh / sh);
  const kmw = Math.ceil(kw / sw);
  const phaseFilter = hostPhaseFilter(filterValues(filter), kh, kw, cin, cout, sh, sw, kmh, kmw);
  return tf.tidy(() => {
    const dyq = ho > qh || wo > qw ? tf.slice(dy, [0, 0, 0, 0], [n, Math.min(ho, qh), Math.min(wo, qw), cout]) : dy;
    const [, hq, wq] = dyq.shape;
    const v = tf.tensor4d(phaseFilter, [kmh, kmw, cout, sh * sw * cin]);
    const padding: [[number, number], [number, number], [number, number], [number, number]] = [
      [0, 0], [kmh - 1, qh - hq], [kmw - 1, qw - wq], [0, 0],
    ];
    const z = tf.conv2d(dyq, v, 1, padding); // [n, qh, qw, sh·sw·cin], channels (rh, rw, c)
    let full: tf.Tensor4D;
    if (sh === 1 && sw === 1) {
      full = z;
    } else {
      // [n·qh, qw, sh, sw·cin] -> [n·qh, sh, qw, sw·cin] -> rows s·q + r, columns likewise.
      const t = tf.transpose(tf.reshape(z, [n * qh, qw, sh, sw * cin]), [0, 2, 1, 3]);
      full = tf.reshape(t, [n, qh * sh, qw * sw, cin]);
    }
    return top === 0 && left === 0 && qh * sh === h && qw * sw === w ? full : tf.slice(full, [0, top, left, 0], [n, h, w, cin]);
  });
}

/** Filter values, synchronously where the backend allows (cpu, wasm). */
function filterValues(filter: tf.Tensor4D): Float32Array {
  const v = filter.dataSync();
  return v instanceof Float32Array ? v : Float32Array.from(v);
}

/**
 * Combined phase filter [kmh, kmw, Cout, sh·sw·Cin]: output channel (rh·sw + rw)·Cin + c holds
 * phase (rh, rw)'s taps reversed, V[a, b, o] = W[rh + sh·(km−1−a'), rw + sw·(km−1−b'), c, o] with
 * a' = a − (kmh − kmPhase) (front zero-padding aligns phases with fewer taps).
 */
function hostPhaseFilter(w: Float32Array, kh: number, kw: number, cin: number, cout: number, sh: number, sw: number, kmh: number, kmw: number): Float32Array {
  const co = sh * sw * cin;
  const values = new Float32Array(kmh * kmw * cout * co);
  for (let rh = 0; rh < sh; rh++) {
    const kph = rh < kh ? Math.ceil((kh - rh) / sh) : 0;
    for (let rw = 0; rw < sw; rw++) {
      const kpw = rw < kw ? Math.ceil((kw - rw) / sw) : 0;
      const phase = rh * sw + rw;
      for (let a = 0; a < kph; a++) {
        const i = rh + sh * (kph - 1 - a);
        const row = kmh - kph + a;
        for (let b = 0; b < kpw; b++) {
          const j = rw + sw * (kpw - 1 - b);
          const col = kmw - kpw + b;
          for (let c = 0; c < cin; c++) {
            const src = ((i * kw + j) * cin + c) * cout;
            const dst = (row * kmw + col) * cout * co + phase * cin + c;
            for (let o = 0; o < cout; o++) values[dst + o * co] = w[src + o];
          }
        }
      }
    }
  }
  return values;
}

export function conv2dBackpropInputKernel(backendName: string): tf.KernelConfig {
  return {
    kernelName: tf.Conv2DBackpropInput,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const dy = need(inputs, 'dy', tf.Conv2DBackpropInput);
      const filter = need(inputs, 'filter', tf.Conv2DBackpropInput);
      const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
      return composite(backend as tf.KernelBackend, [dy, filter], (dyt, ft) => {
        if (dataFormat === 'NCHW') {
          const [n, c, h, w] = inputShape;
          const dyNhwc = tf.transpose(dyt, [0, 2, 3, 1]) as tf.Tensor4D;
          const dx = conv2dInputGradNHWC(dyNhwc, ft as tf.Tensor4D, [n, h, w, c], strides, pad, dimRoundingMode);
          return tf.transpose(dx, [0, 3, 1, 2]);
        }
        return conv2dInputGradNHWC(dyt as tf.Tensor4D, ft as tf.Tensor4D, inputShape, strides, pad, dimRoundingMode);
      });
    },
  };
}

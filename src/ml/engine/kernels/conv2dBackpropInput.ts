import * as tf from '@tensorflow/tfjs';
import { composite, need, pair } from './composite';

/**
 * Conv2D input gradient (transposed convolution) as stride-1 convolutions, so it runs on the
 * backend's fast forward conv (wasm's own Conv2DBackpropInput is a scalar loop, ~10x slower).
 *
 * Forward: y[o] = Σ_i x[s·o + i − p]·W[i]. For a stride s the input rows split into s phases
 * r = (h + p) mod s; phase r only sees taps i = r + s·m, and with q = (h + p − r)/s
 *   dx[h] = Σ_m dy[q − m]·W[r + s·m],
 * a stride-1 correlation of dy with the reversed sub-kernel. Each (row, column) phase is one conv;
 * interleaving the phase outputs and cropping the padding gives dx. No multiply is wasted on
 * inserted zeros.
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

  // Phase filters are tiny; building them on the host avoids three small device ops per phase
  // (transpose, strided slice, reverse), which cost more than the conv itself on wasm.
  const phaseFilters = hostPhaseFilters(filterValues(filter), kh, kw, cin, cout, sh, sw);
  return tf.tidy(() => {
    const dyq = ho > qh || wo > qw ? tf.slice(dy, [0, 0, 0, 0], [n, Math.min(ho, qh), Math.min(wo, qw), cout]) : dy;
    const [, hq, wq] = dyq.shape;
    const phaseRows: tf.Tensor4D[][] = [];
    for (let rh = 0; rh < sh; rh++) {
      const row: tf.Tensor4D[] = [];
      for (let rw = 0; rw < sw; rw++) {
        const pf = phaseFilters[rh * sw + rw];
        if (!pf) {
          row.push(tf.zeros([n, qh, qw, cin]));
          continue;
        }
        const v = tf.tensor4d(pf.values, [pf.kmh, pf.kmw, cout, cin]);
        const padding: [[number, number], [number, number], [number, number], [number, number]] = [
          [0, 0], [pf.kmh - 1, qh - hq], [pf.kmw - 1, qw - wq], [0, 0],
        ];
        row.push(tf.conv2d(dyq, v, 1, padding));
      }
      phaseRows.push(row);
    }
    let full: tf.Tensor4D;
    if (sh === 1 && sw === 1) {
      full = phaseRows[0][0];
    } else {
      // [n, qh, sh, qw, sw, cin] -> rows s·q + r, columns likewise.
      const rows = phaseRows.map((row) => (row.length === 1 ? row[0].expandDims(3) : tf.stack(row, 3)));
      full = tf.stack(rows, 2).reshape([n, qh * sh, qw * sw, cin]);
    }
    return tf.slice(full, [0, top, left, 0], [n, h, w, cin]);
  });
}

/** Filter values, synchronously where the backend allows (cpu, wasm). */
function filterValues(filter: tf.Tensor4D): Float32Array {
  const v = filter.dataSync();
  return v instanceof Float32Array ? v : Float32Array.from(v);
}

interface PhaseFilter {
  kmh: number;
  kmw: number;
  values: Float32Array;
}

/**
 * For each phase (rh, rw): V[m', n', o, c] = W[rh + sh·(kmh−1−m'), rw + sw·(kmw−1−n'), c, o],
 * i.e. the taps of that phase, reversed, with in/out channels swapped. null when a phase has no
 * taps (kernel smaller than the stride).
 */
function hostPhaseFilters(w: Float32Array, kh: number, kw: number, cin: number, cout: number, sh: number, sw: number): Array<PhaseFilter | null> {
  const out: Array<PhaseFilter | null> = [];
  for (let rh = 0; rh < sh; rh++) {
    for (let rw = 0; rw < sw; rw++) {
      const kmh = rh < kh ? Math.ceil((kh - rh) / sh) : 0;
      const kmw = rw < kw ? Math.ceil((kw - rw) / sw) : 0;
      if (kmh === 0 || kmw === 0) {
        out.push(null);
        continue;
      }
      const values = new Float32Array(kmh * kmw * cout * cin);
      for (let a = 0; a < kmh; a++) {
        const i = rh + sh * (kmh - 1 - a);
        for (let b = 0; b < kmw; b++) {
          const j = rw + sw * (kmw - 1 - b);
          for (let c = 0; c < cin; c++) {
            const src = ((i * kw + j) * cin + c) * cout;
            for (let o = 0; o < cout; o++) values[((a * kmw + b) * cout + o) * cin + c] = w[src + o];
          }
        }
      }
      out.push({ kmh, kmw, values });
    }
  }
  return out;
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

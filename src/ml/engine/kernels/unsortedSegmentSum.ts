import * as tf from '@tensorflow/tfjs';
import { need, readSyncValues } from './composite';

/**
 * UnsortedSegmentSum for backends that read synchronously (wasm lacks it; it is tf.gather's
 * gradient, e.g. for embedding tables). segmentIds covers a prefix of x's dimensions; ids outside
 * [0, numSegments) are dropped, as in TensorFlow.
 */
export function unsortedSegmentSumKernel(backendName: string): tf.KernelConfig {
  return {
    kernelName: tf.UnsortedSegmentSum,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const x = need(inputs, 'x', tf.UnsortedSegmentSum);
      const segmentIds = need(inputs, 'segmentIds', tf.UnsortedSegmentSum);
      const { numSegments } = attrs as unknown as tf.UnsortedSegmentSumAttrs;
      const kb = backend as tf.KernelBackend;
      const xv = readSyncValues(kb, x);
      const ids = readSyncValues(kb, segmentIds);
      const prefix = segmentIds.shape.length;
      const inner = x.shape.slice(prefix).reduce((p, d) => p * d, 1);
      const out = x.dtype === 'int32' ? new Int32Array(numSegments * inner) : new Float32Array(numSegments * inner);
      for (let i = 0; i < ids.length; i++) {
        const s = ids[i];
        if (s < 0 || s >= numSegments) continue;
        const src = i * inner;
        const dst = s * inner;
        for (let k = 0; k < inner; k++) out[dst + k] += xv[src + k];
      }
      return tf.tensor(out, [numSegments, ...x.shape.slice(prefix)], x.dtype === 'int32' ? 'int32' : 'float32');
    },
  };
}

import * as tf from '@tensorflow/tfjs';
import { need, readSyncValues } from './composite';

/**
 * Nearest-neighbour resize gradient: every output pixel's gradient goes to the input pixel the
 * forward pass copied it from (same index rule as tfjs's forward kernel). Replaces the cpu kernel,
 * which indexes dy with the image's batch stride and is wrong for batch > 1.
 */
function sourceIndex(dst: number, inSize: number, outSize: number, alignCorners: boolean, halfPixelCenters: boolean): number {
  const effIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  const scale = effIn / effOut;
  const frac = halfPixelCenters ? scale * (dst + 0.5) : scale * dst;
  let src = Math.min(inSize - 1, alignCorners ? Math.round(frac) : Math.floor(frac));
  if (halfPixelCenters) src = Math.max(0, src);
  return src;
}

export function resizeNearestNeighborGradKernel(backendName: string): tf.KernelConfig {
  return {
    kernelName: tf.ResizeNearestNeighborGrad,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const images = need(inputs, 'images', tf.ResizeNearestNeighborGrad);
      const dy = need(inputs, 'dy', tf.ResizeNearestNeighborGrad);
      const { alignCorners, halfPixelCenters } = attrs as unknown as tf.ResizeNearestNeighborGradAttrs;
      const [batch, inH, inW, depth] = images.shape;
      const [, outH, outW] = dy.shape;
      const g = readSyncValues(backend as tf.KernelBackend, dy);
      const dx = new Float32Array(batch * inH * inW * depth);
      const srcRow = Array.from({ length: outH }, (_, r) => sourceIndex(r, inH, outH, alignCorners, halfPixelCenters));
      const srcCol = Array.from({ length: outW }, (_, c) => sourceIndex(c, inW, outW, alignCorners, halfPixelCenters));
      for (let b = 0; b < batch; b++) {
        for (let r = 0; r < outH; r++) {
          const dxRow = (b * inH + srcRow[r]) * inW;
          const dyRow = (b * outH + r) * outW;
          for (let c = 0; c < outW; c++) {
            const o = (dxRow + srcCol[c]) * depth;
            const i = (dyRow + c) * depth;
            for (let d = 0; d < depth; d++) dx[o + d] += g[i + d];
          }
        }
      }
      return tf.tensor4d(dx, [batch, inH, inW, depth]);
    },
  };
}

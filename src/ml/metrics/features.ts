/**
 * Feature extractors for Frechet-style scores on a frozen tfjs network (see frechet.ts). The
 * reference used RadImageNet ResNet-50 (not reachable here); any TF.js layers model the user points
 * at works through the perceptual-loss loader (LayersFeatureNetwork), and the metric is named after
 * that network and layer, e.g. frechet_distance[mobilenet_v1_0.25_224:conv_pw_13_relu].
 * Following the reference's FID preprocessing, images are not resized by default (160x224 in,
 * grey repeated to 3 channels) and the deepest tapped feature map is averaged over space.
 */
import * as tf from '@tensorflow/tfjs';
import type { FeatureNetwork } from '../losses/perceptual';
import type { FeatureExtractor } from './frechet';
import { layoutOf, type ImageBatch } from './images';

export interface NetworkFeatureOptions {
  /** Images per forward pass (memory bound). */
  batchSize?: number;
  /** Resize (bilinear) to this [height, width] first; default: keep the size. */
  resizeTo?: [number, number];
}

/** A FeatureExtractor: the spatial mean of `network`'s deepest tap, one vector per image. */
export function featureExtractorFromNetwork(network: FeatureNetwork, options: NetworkFeatureOptions = {}): FeatureExtractor {
  const { batchSize = 16, resizeTo } = options;
  const taps = network.info.taps;
  const layer = taps[taps.length - 1];
  return {
    name: `${network.info.name}:${layer}`,
    async extract(images: ImageBatch): Promise<Float64Array[]> {
      const { batch, channels, height, width, imageSize } = layoutOf(images, `${network.info.name} input`);
      const out: Float64Array[] = [];
      for (let start = 0; start < batch; start += batchSize) {
        const n = Math.min(batchSize, batch - start);
        const pooled = tf.tidy(() => {
          const chunk = Float32Array.from(images.data.subarray(start * imageSize, (start + n) * imageSize));
          // [B, C, H, W] -> NHWC
          let x = tf.transpose(tf.tensor4d(chunk, [n, channels, height, width]), [0, 2, 3, 1]) as tf.Tensor4D;
          if (resizeTo) x = tf.image.resizeBilinear(x, resizeTo);
          const maps = network.features(x);
          const deepest = maps[maps.length - 1];
          return tf.mean(deepest, [1, 2]) as tf.Tensor2D;
        });
        const data = await pooled.data();
        const dim = pooled.shape[1];
        pooled.dispose();
        for (let i = 0; i < n; i++) out.push(Float64Array.from(data.subarray(i * dim, (i + 1) * dim)));
      }
      return out;
    },
  };
}

import * as tf from '@tensorflow/tfjs';
import type { HostTensor } from '../io/state-dict';

/**
 * The networks compute in NHWC (tfjs convolutions are NHWC). PyTorch/MONAI tensors, fixture files
 * and our own exported files are NCHW; convert only at those edges.
 */
export function nchwToNhwc<T extends tf.Tensor>(x: T): T {
  return tf.transpose(x, [0, 2, 3, 1]) as T;
}

export function nhwcToNchw<T extends tf.Tensor>(x: T): T {
  return tf.transpose(x, [0, 3, 1, 2]) as T;
}

/** A host NCHW image batch -> NHWC tensor. */
export function nhwcFromHost(t: HostTensor): tf.Tensor4D {
  if (t.shape.length !== 4) throw new Error(`expected an NCHW tensor of rank 4, got shape [${t.shape.join(', ')}]`);
  return tf.tidy(() => nchwToNhwc(tf.tensor4d(t.data, t.shape as [number, number, number, number])));
}

/** An NHWC tensor -> host NCHW (async: webgpu has no synchronous readback). */
export async function hostFromNhwc(x: tf.Tensor4D): Promise<HostTensor> {
  const nchw = nhwcToNchw(x);
  const data = (await nchw.data()) as Float32Array;
  const shape = [...nchw.shape];
  nchw.dispose();
  return { shape, data };
}

export async function hostFromTensor(x: tf.Tensor): Promise<HostTensor> {
  return { shape: [...x.shape], data: (await x.data()) as Float32Array };
}

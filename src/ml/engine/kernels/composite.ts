import * as tf from '@tensorflow/tfjs';

/**
 * Helpers for kernels composed from other kernels of the same backend. Inside a kernel the engine
 * does not record ops on the gradient tape, so plain tf ops are safe to call here. A kernel may
 * return a Tensor (the engine uses it as is), which lets a composed kernel return a tidy's result.
 */

type KernelInput = tf.TensorInfo | tf.Tensor;

function isTensor(info: KernelInput): info is tf.Tensor {
  return info instanceof tf.Tensor;
}

/**
 * Runs `fn` on Tensor views of the kernel's inputs (they are usually Tensors already; bare
 * TensorInfos get a view that holds one extra backend reference, released afterwards).
 */
export function composite<T extends tf.Tensor | tf.Tensor[]>(
  backend: tf.KernelBackend,
  inputs: KernelInput[],
  fn: (...ts: tf.Tensor[]) => T,
): T {
  const views: tf.Tensor[] = [];
  const ts = inputs.map((info) => {
    if (isTensor(info)) return info;
    backend.incRef(info.dataId);
    const view = tf.engine().makeTensorFromTensorInfo(info, backend);
    views.push(view);
    return view;
  });
  try {
    return tf.tidy(() => fn(...ts));
  } finally {
    for (const v of views) v.dispose();
  }
}

/** Synchronous values of a kernel input on a backend that can read synchronously (cpu, wasm). */
export function readSyncValues(backend: tf.KernelBackend, info: tf.TensorInfo): Float32Array | Int32Array {
  const values = backend.readSync(info.dataId);
  if (values instanceof Float32Array || values instanceof Int32Array) return values;
  if (values instanceof Uint8Array) return Int32Array.from(values);
  throw new Error(`readSyncValues: unsupported dtype ${info.dtype}`);
}

/** Normalises tfjs's `number | [number, number]` stride attribute. */
export function pair(v: number | [number, number]): [number, number] {
  return typeof v === 'number' ? [v, v] : v;
}

/** A required kernel input (tfjs types every kernel input as optional). */
export function need(inputs: tf.NamedTensorInfoMap, name: string, kernel: string): tf.TensorInfo {
  const t = inputs[name];
  if (!t) throw new Error(`${kernel}: missing input '${name}'`);
  return t;
}

import * as tf from '@tensorflow/tfjs';

/**
 * Memory discipline for training loops: every step's intermediates must be freed, otherwise
 * tensor counts (and wasm/GPU memory) grow until the process dies hours into a run.
 */

/** tf.tidy that also works for async work split into sync steps; re-exported for one import site. */
export function withTidy<T extends tf.TensorContainer>(fn: () => T): T {
  return tf.tidy(fn);
}

export interface LeakReport {
  tensorsBefore: number;
  tensorsAfter: number;
  leaked: number;
}

/**
 * Runs `fn` and throws if it leaves more live tensors behind than `allowed` (e.g. the tensors it
 * deliberately returns). Works for sync and async functions.
 */
export async function assertNoLeak<T>(fn: () => T | Promise<T>, allowed = 0, label = 'operation'): Promise<T> {
  const before = tf.memory().numTensors;
  const out = await fn();
  const after = tf.memory().numTensors;
  if (after - before > allowed) {
    throw new Error(`${label} leaked ${after - before - allowed} tensor(s) (${before} -> ${after}, allowed ${allowed})`);
  }
  return out;
}

export function liveTensors(): number {
  return tf.memory().numTensors;
}

/** Disposes every tensor in a (possibly nested) container; tolerant of already-disposed ones. */
export function disposeAll(container: tf.TensorContainer): void {
  tf.dispose(container);
}

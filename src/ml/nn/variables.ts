import * as tf from '@tensorflow/tfjs';

/** tf.variable shares its initial tensor's data and leaves that tensor alive; release it. */
export function ownedVariable(initial: tf.Tensor, trainable = false): tf.Variable {
  const v = tf.variable(initial, trainable);
  initial.dispose();
  return v;
}

import * as tf from '@tensorflow/tfjs';

/**
 * The reference's elementwise losses (autoencoder L1 / KL / least-squares adversarial, diffusion
 * MSE). Layout-agnostic: every
 * reduction is a full mean or a per-sample sum over all non-batch axes.
 */

/** mean |recon - x| */
export function l1Loss(recon: tf.Tensor, x: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.abs(tf.sub(recon, x))) as tf.Scalar);
}

/** mean (pred - target)^2 over all elements (the v-prediction / epsilon loss). */
export function mseLoss(pred: tf.Tensor, target: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.squaredDifference(pred, target)) as tf.Scalar);
}

/**
 * KL(q(z|x) || N(0, I)) as the reference computes it: 0.5 * sum_{c,h,w}(mu^2 + sigma^2 - ln sigma^2 - 1),
 * then divided by the batch size.
 */
export function klLoss(mu: tf.Tensor, sigma: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const sigma2 = tf.square(sigma);
    const terms = tf.sub(tf.sub(tf.add(tf.square(mu), sigma2), tf.log(tf.maximum(sigma2, 1e-30))), 1);
    return tf.div(tf.mul(tf.sum(terms), 0.5), mu.shape[0]!) as tf.Scalar;
  });
}

/** Least-squares GAN, generator side: mean((D(fake) - 1)^2), logits with no activation. */
export function lsganGeneratorLoss(fakeLogits: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean(tf.square(tf.sub(fakeLogits, 1))) as tf.Scalar);
}

/**
 * Least-squares GAN, discriminator side: 0.5 * [mean(D(fake)^2) + mean((D(real) - 1)^2)] (fake
 * target 0, real target 1). The reference multiplies this by adv_weight outside.
 */
export function lsganDiscriminatorLoss(fakeLogits: tf.Tensor, realLogits: tf.Tensor): tf.Scalar {
  return tf.tidy(
    () => tf.mul(tf.add(tf.mean(tf.square(fakeLogits)), tf.mean(tf.square(tf.sub(realLogits, 1)))), 0.5) as tf.Scalar,
  );
}

/**
 * Latent-diffusion pieces shared by training (src/ml/train) and sampling (src/ml/sample), shaped
 * like MONAI's ControlNetLatentDiffusionInferer: encode x scale, the ControlNet-controlled UNet
 * forward, classifier-free guidance, the reverse diffusion loop, decode / scale, and loading
 * trained networks from checkpoints.
 */
export * from './checkpoint';
export * from './context';
export * from './latents';
export * from './controlled';
export * from './diffusion';
export * from './guidance';
export * from './load';

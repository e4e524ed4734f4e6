/**
 * MONAI GenerativeModels 0.2.x networks (AutoencoderKL, DiffusionModelUNet, ControlNet,
 * PatchDiscriminator) on TensorFlow.js.
 *
 * - Configs use MONAI's constructor argument names (a manifest.json section or a reference YAML
 *   `params` block loads as-is) and are validated with errors naming the field; PRESETS holds the
 *   "reference" (published) and "desktop" (2-CPU-core) configs.
 * - Constructing a network only declares its parameters (MONAI state_dict names, PyTorch shapes,
 *   init): parameterSpecs()/parameterCount() cost no memory. initialize(seed) or
 *   loadStateDict(sd, {strict}) allocates; stateDict() returns PyTorch layout (conv
 *   [out,in,kh,kw], linear [out,in]); weights files are read by src/ml/io (readWeights).
 * - Activations are NHWC (tfjs convolutions are NHWC): images [B,H,W,C], latents [B,h,w,3],
 *   context [B,tokens,dim], timesteps [B] or [1]. NCHW data (PyTorch, fixtures, exported files)
 *   is converted at the edges with nchwToNhwc / nhwcToNchw / nhwcFromHost / hostFromNhwc
 *   (src/ml/nn/layout).
 * - Forward functions are plain tf ops (no dataSync), usable inside tf.variableGrads /
 *   optimizer.minimize and on cpu, wasm and webgpu once the engine's kernel fixes are registered.
 */
export * from './network';
export * from './autoencoder-kl';
export * from './diffusion-unet';
export * from './controlnet';
export * from './patch-discriminator';
export * from './presets';
export { timestepEmbedding } from './unet-blocks';
export * from './forward-check';

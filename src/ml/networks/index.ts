export * from './network';
export * from './autoencoder-kl';
export * from './diffusion-unet';
export * from './controlnet';
export * from './patch-discriminator';
export * from './presets';
export { timestepEmbedding } from './unet-blocks';
export * from './forward-check';

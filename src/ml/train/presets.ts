import { presetConfig } from '../networks/presets';
import type { NetworkParams, TrainPreset } from './config';

/**
 * Network shapes per training preset, taken from the network presets (src/ml/networks/presets.ts,
 * the single source): "reference" is the published configuration for 160x224 slices; "desktop"
 * keeps the same blocks at a size that trains on 2 CPU cores (80x112 slices, x4 autoencoder, so the
 * latent is 20x28x3 as in the reference).
 */
export interface NetworkPresetSet {
  autoencoder: NetworkParams;
  discriminator: NetworkParams;
  unet: NetworkParams;
  /** ControlNet extras; the rest is copied from the parent LDM's UNet. */
  controlnet: NetworkParams;
}

export function networkPresets(preset: TrainPreset): NetworkPresetSet {
  const cn = presetConfig('controlnet', preset);
  return {
    autoencoder: presetConfig('autoencoderkl', preset) as unknown as NetworkParams,
    discriminator: presetConfig('patch_discriminator', preset) as unknown as NetworkParams,
    unet: presetConfig('diffusion_unet', preset) as unknown as NetworkParams,
    controlnet: {
      conditioning_embedding_in_channels: cn.conditioning_embedding_in_channels,
      conditioning_embedding_num_channels: cn.conditioning_embedding_num_channels,
    },
  };
}

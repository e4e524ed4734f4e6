import type { NetworkParams, TrainPreset } from './config';

/**
 * Network shapes per training preset, in MONAI constructor names. "reference" is the published
 * configuration (reference-pipeline.md B.1, C.1, D.1) for 160x224 slices; "desktop" keeps the same
 * architecture families at a size that trains on 2 CPU cores: 80x112 slices, a x4 autoencoder
 * (so the latent is 20x28x3 as in the reference), and a small UNet/ControlNet.
 */
export interface NetworkPresetSet {
  autoencoder: NetworkParams;
  discriminator: NetworkParams;
  unet: NetworkParams;
  /** ControlNet extras; the rest is copied from the parent LDM's UNet. */
  controlnet: NetworkParams;
}

const REFERENCE: NetworkPresetSet = {
  autoencoder: {
    spatial_dims: 2,
    in_channels: 1,
    out_channels: 1,
    num_channels: [128, 256, 256, 512],
    latent_channels: 3,
    num_res_blocks: 2,
    attention_levels: [false, false, false, false],
    with_encoder_nonlocal_attn: false,
    with_decoder_nonlocal_attn: false,
  },
  discriminator: { spatial_dims: 2, num_channels: 128, num_layers_d: 3, in_channels: 1, out_channels: 1 },
  unet: {
    spatial_dims: 2,
    in_channels: 3,
    out_channels: 3,
    num_res_blocks: 2,
    num_channels: [256, 512, 768],
    attention_levels: [false, true, true],
    with_conditioning: true,
    cross_attention_dim: 1024,
    num_head_channels: [0, 512, 768],
  },
  controlnet: { conditioning_embedding_in_channels: 1, conditioning_embedding_num_channels: [64, 128, 128, 256] },
};

const DESKTOP: NetworkPresetSet = {
  autoencoder: {
    spatial_dims: 2,
    in_channels: 1,
    out_channels: 1,
    num_channels: [16, 32, 32],
    latent_channels: 3,
    num_res_blocks: 1,
    norm_num_groups: 8,
    attention_levels: [false, false, false],
    with_encoder_nonlocal_attn: false,
    with_decoder_nonlocal_attn: false,
  },
  discriminator: { spatial_dims: 2, num_channels: 16, num_layers_d: 3, in_channels: 1, out_channels: 1 },
  unet: {
    spatial_dims: 2,
    in_channels: 3,
    out_channels: 3,
    num_res_blocks: 1,
    num_channels: [32, 64, 64],
    attention_levels: [false, true, true],
    norm_num_groups: 16,
    with_conditioning: true,
    cross_attention_dim: 64,
    num_head_channels: [0, 64, 64],
  },
  controlnet: { conditioning_embedding_in_channels: 1, conditioning_embedding_num_channels: [16, 32, 32] },
};

export function networkPresets(preset: TrainPreset): NetworkPresetSet {
  return structuredClone(preset === 'reference' ? REFERENCE : DESKTOP);
}

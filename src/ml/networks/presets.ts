import { AutoencoderKL, type AutoencoderKLConfig } from './autoencoder-kl';
import { ControlNet, type ControlNetConfig } from './controlnet';
import { DiffusionModelUNet, type DiffusionUNetConfig } from './diffusion-unet';
import { PatchDiscriminator, type PatchDiscriminatorConfig } from './patch-discriminator';

/**
 * Network presets. "reference" is exactly the published configs of the reference project's
 * autoencoder, LDM and ControlNet: AE 34,010,024, UNet 263,636,995, ControlNet 117,883,072, discriminator 11,032,193 parameters.
 * "desktop" keeps every code path (same blocks, attention levels, cross-attention, zero convs) but
 * is small enough to train on 2 CPU cores in minutes: 80x112 slices -> AE latent 8x20x28 (two
 * downsamplings instead of three), UNet/ControlNet on that latent, conditioning embedding with two
 * stride-2 steps from 80x112 to 20x28. The AE stays narrow ([16,32,32]) because its full-resolution
 * convolutions dominate its cost: [32,64,64] measured ~10 GFLOP per batch-4 forward, 13 s per
 * train step on wasm. Same values as the training presets (src/ml/train/presets.ts).
 * The desktop latent has 8 channels where the reference has 3: it costs the same per step and, on
 * the open-MS test subject (autoencoder, LDM and ControlNet at the same step counts, sampled at
 * the desktop scale 1.5, DDIM 50), reconstructed it at 23.02 dB / MS-SSIM 0.970 instead of 22.14 /
 * 0.954, and translated it at 19.52 / 0.903 instead of 19.43 / 0.897 for one sample and 19.96 /
 * 0.913 instead of 19.77 / 0.904 for the mean of four.
 */
export const PRESETS = {
  autoencoderkl: {
    reference: {
      spatial_dims: 2,
      in_channels: 1,
      out_channels: 1,
      num_channels: [128, 256, 256, 512],
      latent_channels: 3,
      num_res_blocks: 2,
      norm_num_groups: 32,
      norm_eps: 1e-6,
      attention_levels: [false, false, false, false],
      with_encoder_nonlocal_attn: false,
      with_decoder_nonlocal_attn: false,
    },
    desktop: {
      spatial_dims: 2,
      in_channels: 1,
      out_channels: 1,
      num_channels: [16, 32, 32],
      latent_channels: 8,
      num_res_blocks: 1,
      norm_num_groups: 8,
      norm_eps: 1e-6,
      attention_levels: [false, false, false],
      with_encoder_nonlocal_attn: false,
      with_decoder_nonlocal_attn: false,
    },
  },
  diffusion_unet: {
    reference: {
      spatial_dims: 2,
      in_channels: 3,
      out_channels: 3,
      num_res_blocks: 2,
      num_channels: [256, 512, 768],
      attention_levels: [false, true, true],
      norm_num_groups: 32,
      norm_eps: 1e-6,
      with_conditioning: true,
      cross_attention_dim: 1024,
      num_head_channels: [0, 512, 768],
    },
    desktop: {
      spatial_dims: 2,
      in_channels: 8,
      out_channels: 8,
      num_res_blocks: 1,
      num_channels: [32, 64, 64],
      attention_levels: [false, true, true],
      norm_num_groups: 16,
      norm_eps: 1e-6,
      with_conditioning: true,
      cross_attention_dim: 64,
      num_head_channels: [0, 64, 64],
    },
  },
  controlnet: {
    reference: {
      spatial_dims: 2,
      in_channels: 3,
      num_res_blocks: 2,
      num_channels: [256, 512, 768],
      attention_levels: [false, true, true],
      norm_num_groups: 32,
      norm_eps: 1e-6,
      with_conditioning: true,
      cross_attention_dim: 1024,
      num_head_channels: [0, 512, 768],
      conditioning_embedding_in_channels: 1,
      conditioning_embedding_num_channels: [64, 128, 128, 256],
    },
    desktop: {
      spatial_dims: 2,
      in_channels: 8,
      num_res_blocks: 1,
      num_channels: [32, 64, 64],
      attention_levels: [false, true, true],
      norm_num_groups: 16,
      norm_eps: 1e-6,
      with_conditioning: true,
      cross_attention_dim: 64,
      num_head_channels: [0, 64, 64],
      conditioning_embedding_in_channels: 1,
      conditioning_embedding_num_channels: [16, 32, 32],
    },
  },
  patch_discriminator: {
    reference: { spatial_dims: 2, num_layers_d: 3, num_channels: 128, in_channels: 1, out_channels: 1 },
    desktop: { spatial_dims: 2, num_layers_d: 3, num_channels: 16, in_channels: 1, out_channels: 1 },
  },
} as const satisfies {
  autoencoderkl: Record<string, AutoencoderKLConfig>;
  diffusion_unet: Record<string, DiffusionUNetConfig>;
  controlnet: Record<string, ControlNetConfig>;
  patch_discriminator: Record<string, PatchDiscriminatorConfig>;
};

export type NetworkKind = keyof typeof PRESETS;
export type PresetName = 'reference' | 'desktop';
export const NETWORK_KINDS = Object.keys(PRESETS) as NetworkKind[];

export interface NetworkByKind {
  autoencoderkl: AutoencoderKL;
  diffusion_unet: DiffusionModelUNet;
  controlnet: ControlNet;
  patch_discriminator: PatchDiscriminator;
}

export interface ConfigByKind {
  autoencoderkl: AutoencoderKLConfig;
  diffusion_unet: DiffusionUNetConfig;
  controlnet: ControlNetConfig;
  patch_discriminator: PatchDiscriminatorConfig;
}

/** A mutable deep copy of a preset config (presets themselves are frozen literals). */
export function presetConfig<K extends NetworkKind>(kind: K, preset: PresetName): ConfigByKind[K] {
  return JSON.parse(JSON.stringify(PRESETS[kind][preset])) as ConfigByKind[K];
}

/** Builds (declares, does not allocate) a network from its MONAI-style config. */
export function createNetwork<K extends NetworkKind>(kind: K, config: ConfigByKind[K]): NetworkByKind[K] {
  switch (kind) {
    case 'autoencoderkl':
      return new AutoencoderKL(config as AutoencoderKLConfig) as NetworkByKind[K];
    case 'diffusion_unet':
      return new DiffusionModelUNet(config as DiffusionUNetConfig) as NetworkByKind[K];
    case 'controlnet':
      return new ControlNet(config as ControlNetConfig) as NetworkByKind[K];
    case 'patch_discriminator':
      return new PatchDiscriminator(config as PatchDiscriminatorConfig) as NetworkByKind[K];
    default:
      throw new Error(`unknown network "${String(kind)}" (known: ${NETWORK_KINDS.join(', ')})`);
  }
}

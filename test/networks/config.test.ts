import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { AutoencoderKL, ControlNet, DiffusionModelUNet, PatchDiscriminator, presetConfig, timestepEmbedding } from '../../src/ml/networks';
import { useBackend } from './fixtures';

beforeAll(() => useBackend('cpu'));

describe('network configs: MONAI argument names, clear errors', () => {
  it('rejects channels that GroupNorm cannot split, naming the field and the values', () => {
    const cfg = { ...presetConfig('autoencoderkl', 'desktop'), num_channels: [16, 36, 32] };
    expect(() => new AutoencoderKL(cfg)).toThrow('autoencoderkl config: every num_channels entry must be divisible by norm_num_groups=8 (GroupNorm); 36 is not');
  });

  it('rejects unknown fields, listing the known ones', () => {
    const cfg = { ...presetConfig('diffusion_unet', 'desktop'), num_chanels: [1] } as never;
    expect(() => new DiffusionModelUNet(cfg)).toThrow(/diffusion_unet config: unknown field "num_chanels" \(known: spatial_dims, /);
  });

  it('rejects attention head sizes that do not divide the channels', () => {
    const cfg = { ...presetConfig('controlnet', 'desktop'), num_head_channels: [0, 48, 64] };
    expect(() => new ControlNet(cfg)).toThrow('controlnet config: num_head_channels[1]=48 must be a positive divisor of num_channels[1]=64');
  });

  it('requires cross_attention_dim with conditioning, 2-D, and per-level lists of the right length', () => {
    expect(() => new DiffusionModelUNet({ ...presetConfig('diffusion_unet', 'desktop'), cross_attention_dim: null })).toThrow(/with_conditioning=true needs cross_attention_dim/);
    expect(() => new DiffusionModelUNet({ ...presetConfig('diffusion_unet', 'desktop'), spatial_dims: 3 })).toThrow(/spatial_dims must be 2/);
    expect(() => new DiffusionModelUNet({ ...presetConfig('diffusion_unet', 'desktop'), num_res_blocks: [1, 1] })).toThrow(
      /num_res_blocks has 2 entries but num_channels has 3 levels/,
    );
    expect(() => new PatchDiscriminator({ spatial_dims: 2, in_channels: 1, num_channels: 0 })).toThrow(/num_channels must be a positive integer, got 0/);
  });
});

describe('timestep embedding (MONAI Generative sinusoidal embedding, cosine half first)', () => {
  it('is cosine-first: t=0 gives 128 ones then 128 zeros; t=1 matches the anchors', async () => {
    const emb = timestepEmbedding(tf.tensor1d([0, 1]), 256);
    const e = await emb.data();
    expect(Array.from(e.slice(0, 128)).every((v) => v === 1)).toBe(true);
    expect(Array.from(e.slice(128, 256)).every((v) => v === 0)).toBe(true);
    const t1 = e.slice(256);
    expect(t1[0]).toBeCloseTo(0.5403023, 6);
    expect(t1[1]).toBeCloseTo(0.5973753, 6);
    expect(t1[127]).toBeCloseTo(1.0, 6);
    expect(t1[128]).toBeCloseTo(0.841471, 6);
    expect(t1[129]).toBeCloseTo(0.8019618, 6);
    emb.dispose();
  });
});

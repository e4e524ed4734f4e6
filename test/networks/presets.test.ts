import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createNetwork, NETWORK_KINDS, PRESETS, presetConfig, type ConfigByKind, type NetworkByKind, type NetworkKind } from '../../src/ml/networks';
import { fixturePath, hasShared, useBackend } from './fixtures';

beforeAll(() => useBackend('cpu'));

const KEY_FILES: Record<NetworkKind, string> = {
  autoencoderkl: 'reference-config-keys_aekl.txt',
  diffusion_unet: 'reference-config-keys_unet.txt',
  controlnet: 'reference-config-keys_controlnet.txt',
  patch_discriminator: 'reference-config-keys_patchdisc.txt',
};

// Parameter counts of the reference networks, as MONAI Generative builds them with the reference configs.
const REFERENCE_PARAMETERS: Record<NetworkKind, number> = {
  autoencoderkl: 34_010_024,
  diffusion_unet: 263_636_995,
  controlnet: 117_883_072,
  patch_discriminator: 11_032_193,
};

describe('reference presets', () => {
  for (const kind of NETWORK_KINDS) {
    it(`${kind}: spec parameter count ${REFERENCE_PARAMETERS[kind].toLocaleString('en')} without allocating a tensor`, () => {
      const before = tf.memory().numTensors;
      const net = createNetwork(kind, presetConfig(kind, 'reference'));
      expect(net.parameterCount()).toBe(REFERENCE_PARAMETERS[kind]);
      expect(net.params.allocated).toBe(false);
      expect(tf.memory().numTensors).toBe(before);
    });

    it.skipIf(!hasShared)(`${kind}: exactly the key -> shape list of ${KEY_FILES[kind]}, in order`, () => {
      const expected = readFileSync(fixturePath(KEY_FILES[kind]), 'utf8').trim().split('\n');
      const net = createNetwork(kind, presetConfig(kind, 'reference'));
      const got = net.parameterSpecs().map((s) => `${s.name}\t[${s.shape.join(', ')}]`);
      expect(got).toEqual(expected);
    });
  }

  it('presets are the configs of the reference YAMLs', () => {
    expect(PRESETS.diffusion_unet.reference.num_head_channels).toEqual([0, 512, 768]);
    expect(PRESETS.controlnet.reference.conditioning_embedding_num_channels).toEqual([64, 128, 128, 256]);
    expect(PRESETS.autoencoderkl.reference.num_channels).toEqual([128, 256, 256, 512]);
  });
});

describe('desktop presets', () => {
  it('use the same blocks as the reference at a size that trains on 2 CPU cores', () => {
    for (const kind of NETWORK_KINDS) {
      const ref = createNetwork(kind, presetConfig(kind, 'reference'));
      const desk = createNetwork(kind, presetConfig(kind, 'desktop'));
      expect(desk.parameterCount()).toBeLessThan(2_000_000);
      expect(desk.parameterCount()).toBeLessThan(ref.parameterCount() / 15);
      // Same kinds of tensors: every desktop name pattern (indices stripped) exists in the reference.
      const pattern = (n: string): string => n.replace(/\.\d+\./g, '.#.');
      const refPatterns = new Set(ref.parameterSpecs().map((s) => pattern(s.name)));
      for (const s of desk.parameterSpecs()) expect(refPatterns.has(pattern(s.name)), s.name).toBe(true);
    }
  });

  it('desktop AE maps 80x112 slices to an 8x20x28 latent; the ControlNet embedding maps 80x112 to 20x28', async () => {
    await useBackend('wasm');
    const ae = createNetwork('autoencoderkl', presetConfig('autoencoderkl', 'desktop')).initialize(1);
    const cn = createNetwork('controlnet', presetConfig('controlnet', 'desktop')).initialize(1);
    const shapes = tf.tidy(() => {
      const x = tf.zeros([1, 80, 112, 1]) as tf.Tensor4D;
      const { mu } = ae.encode(x);
      const res = cn.forward(tf.zeros([1, 20, 28, 8]) as tf.Tensor4D, tf.tensor1d([10]), tf.zeros([1, 4, 64]) as tf.Tensor3D, x);
      return { mu: mu.shape, down0: res.down[0].shape, mid: res.mid.shape, rec: ae.decode(mu).shape };
    });
    expect(shapes).toEqual({ mu: [1, 20, 28, 8], down0: [1, 20, 28, 32], mid: [1, 5, 7, 64], rec: [1, 80, 112, 1] });
    ae.dispose();
    cn.dispose();
    await useBackend('cpu');
  });
});

describe('reference spatial structure (the reference networks\' tensor shapes, channels narrowed to run in CI)', () => {
  it('AE 2x1x160x224 -> mu/sigma 2x3x20x28 and recon 2x1x160x224; D -> 80x112, 40x56, 20x28, 19x27, 18x26; UNet/ControlNet 2x3x20x28 with t of shape (1,)', async () => {
    await useBackend('wasm');
    const narrow = <K extends NetworkKind>(kind: K, patch: object): NetworkByKind[K] => {
      const net = createNetwork(kind, { ...presetConfig(kind, 'reference'), ...patch } as ConfigByKind[K]);
      net.initialize(0);
      return net;
    };
    const ae = narrow('autoencoderkl', { num_channels: [4, 4, 4, 4], norm_num_groups: 2 });
    const d = narrow('patch_discriminator', { num_channels: 2 });
    const unetPatch = { num_channels: [4, 8, 8], norm_num_groups: 2, num_head_channels: [0, 8, 8], cross_attention_dim: 8 };
    const unet = narrow('diffusion_unet', unetPatch);
    const cn = narrow('controlnet', { ...unetPatch, conditioning_embedding_num_channels: [2, 2, 2, 2] });
    const shapes = tf.tidy(() => {
      const image = tf.zeros([2, 160, 224, 1]) as tf.Tensor4D;
      const { mu, sigma } = ae.encode(image);
      const latent = tf.zeros([2, 20, 28, 3]) as tf.Tensor4D;
      const t = tf.tensor1d([999]);
      const ctx = tf.zeros([2, 77, 8]) as tf.Tensor3D;
      const res = cn.forward(latent, t, ctx, image);
      return {
        mu: mu.shape,
        sigma: sigma.shape,
        recon: ae.decode(mu).shape,
        d: d.forward(image, { training: false }).map((o) => o.shape.slice(1, 3)),
        unet: unet.forward(latent, t, ctx, res).shape,
        down: res.down.map((r) => r.shape.slice(1, 3)),
      };
    });
    expect(shapes.mu).toEqual([2, 20, 28, 3]);
    expect(shapes.sigma).toEqual([2, 20, 28, 3]);
    expect(shapes.recon).toEqual([2, 160, 224, 1]);
    expect(shapes.d).toEqual([[80, 112], [40, 56], [20, 28], [19, 27], [18, 26]]);
    expect(shapes.unet).toEqual([2, 20, 28, 3]);
    expect(shapes.down).toEqual([[20, 28], [20, 28], [20, 28], [10, 14], [10, 14], [10, 14], [5, 7], [5, 7], [5, 7]]);
    [ae, d, unet, cn].forEach((n) => n.dispose());
    await useBackend('cpu');
  });
});

import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { readPthStateDict, stripModulePrefix, type StateDict } from '../../src/ml/io';
import { AutoencoderKL, ControlNet, DiffusionModelUNet, PatchDiscriminator, createNetwork, presetConfig, type AutoencoderKLConfig, type ControlNetConfig, type DiffusionUNetConfig, type PatchDiscriminatorConfig } from '../../src/ml/networks';
import { fixture, fixturePath, hasShared, manifest, useBackend } from './fixtures';

beforeAll(() => useBackend('cpu'));

function sameBits(a: StateDict, b: StateDict): string[] {
  const diffs: string[] = [];
  for (const [k, t] of b) {
    const u = a.get(k);
    if (!u) diffs.push(`${k} missing`);
    else if (u.data.length !== t.data.length || u.data.some((v, i) => !Object.is(v, t.data[i]))) diffs.push(k);
  }
  return diffs;
}

describe.skipIf(!hasShared)('state_dict import/export', () => {
  it('stateDict() returns exactly the loaded tensors in PyTorch layout (conv and linear transposes are exact)', async () => {
    const unet = new DiffusionModelUNet(manifest().diffusion_unet as unknown as DiffusionUNetConfig);
    const sd = fixture('diffusion_unet.weights.safetensors').tensors;
    unet.loadStateDict(sd);
    const back = await unet.stateDict();
    expect([...back.keys()]).toEqual([...sd.keys()]);
    expect(sameBits(back, sd)).toEqual([]);
    unet.dispose();
  });

  it('networks loaded from .pth and from .safetensors hold identical tensors', async () => {
    const m = manifest();
    const a = new AutoencoderKL(m.autoencoderkl as unknown as AutoencoderKLConfig);
    const b = new AutoencoderKL(m.autoencoderkl as unknown as AutoencoderKLConfig);
    a.loadStateDict(readPthStateDict(fixturePath('autoencoderkl.weights.pth')));
    b.loadStateDict(fixture('autoencoderkl.weights.safetensors').tensors);
    expect(sameBits(await a.stateDict(), await b.stateDict())).toEqual([]);
    const c = new ControlNet(m.controlnet as unknown as ControlNetConfig);
    c.loadStateDict(readPthStateDict(fixturePath('controlnet.checkpoint.pth')));
    expect(sameBits(await c.stateDict(), fixture('controlnet.weights.safetensors').tensors)).toEqual([]);
    tf.dispose([a, b, c].flatMap((n) => n.trainableVariables()));
  });

  it('lists missing, unexpected and mis-shaped keys in one error and changes nothing', async () => {
    const d = new PatchDiscriminator(manifest().patch_discriminator as unknown as PatchDiscriminatorConfig);
    const good = fixture('patch_discriminator.weights.safetensors').tensors;
    d.loadStateDict(good);
    const bad: StateDict = new Map(good);
    bad.delete('final_conv.conv.bias');
    bad.delete('0.adn.N.running_var');
    bad.set('extra.weight', { shape: [1], data: new Float32Array(1) });
    bad.set('initial_conv.conv.weight', { shape: [8, 1, 3, 3], data: new Float32Array(72) });
    let message = '';
    try {
      d.loadStateDict(bad, { source: 'broken.safetensors' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^broken\.safetensors: cannot load weights/);
    expect(message).toMatch(/missing keys \(2\):\n\s+0\.adn\.N\.running_var\n\s+final_conv\.conv\.bias/);
    expect(message).toMatch(/unexpected keys \(1\):\n\s+extra\.weight/);
    expect(message).toMatch(/shape mismatches \(1\):\n\s+initial_conv\.conv\.weight: expected \[8, 1, 4, 4\], got \[8, 1, 3, 3\]/);
    // Nothing was half-loaded.
    expect(sameBits(await d.stateDict(), good)).toEqual([]);
    // Non-strict loading tolerates missing/unexpected keys (torch semantics) but never a shape mismatch.
    bad.set('initial_conv.conv.weight', good.get('initial_conv.conv.weight')!);
    const report = d.loadStateDict(bad, { strict: false });
    expect(report.missing).toEqual(['0.adn.N.running_var', 'final_conv.conv.bias']);
    expect(report.unexpected).toEqual(['extra.weight']);
    d.dispose();
  });

  it('strips the DataParallel "module." prefix', () => {
    const sd: StateDict = new Map([['module.a.weight', { shape: [1], data: new Float32Array(1) }]]);
    expect([...stripModulePrefix(sd).keys()]).toEqual(['a.weight']);
  });

  it('ControlNet.copyFromUnet copies conv_in, time_embed, down_blocks and middle_block, nothing else', async () => {
    const m = manifest();
    const unet = new DiffusionModelUNet(m.diffusion_unet as unknown as DiffusionUNetConfig);
    unet.loadStateDict(fixture('diffusion_unet.weights.safetensors').tensors);
    const cn = new ControlNet(m.controlnet as unknown as ControlNetConfig).initialize(3);
    const before = await cn.stateDict();
    const copied = await cn.copyFromUnet(unet);
    const after = await cn.stateDict();
    const unetSd = await unet.stateDict();
    expect(copied.every((k) => /^(conv_in|time_embed|down_blocks|middle_block)\./.test(k))).toBe(true);
    expect(copied.length).toBe([...after.keys()].filter((k) => unetSd.has(k)).length);
    for (const k of after.keys()) {
      const expected = copied.includes(k) ? unetSd.get(k)! : before.get(k)!;
      expect(sameBits(new Map([[k, after.get(k)!]]), new Map([[k, expected]])), k).toEqual([]);
    }
    // Zero convs and the conditioning embedding's conv_out start at zero.
    expect(after.get('controlnet_down_blocks.0.weight')!.data.every((v) => v === 0)).toBe(true);
    expect(after.get('controlnet_cond_embedding.conv_out.conv.weight')!.data.every((v) => v === 0)).toBe(true);
    unet.dispose();
    cn.dispose();
  });
});

describe('ControlNet initialisation on the reference configs (no allocation)', () => {
  it('224 tensors are shared with the UNet; 36 keep their own values; 272 UNet tensors are ignored', () => {
    const unet = createNetwork('diffusion_unet', presetConfig('diffusion_unet', 'reference'));
    const cn = createNetwork('controlnet', presetConfig('controlnet', 'reference'));
    const u = new Map(unet.parameterSpecs().map((s) => [s.name, s.shape.join()]));
    const shared = cn.parameterSpecs().filter((s) => u.get(s.name) === s.shape.join());
    expect(shared).toHaveLength(224);
    expect(cn.parameterSpecs().length - shared.length).toBe(36);
    expect(unet.parameterSpecs().length - shared.length).toBe(272);
  });
});

describe('BatchNorm train/eval', () => {
  it('train mode normalises with batch statistics and updates running stats like PyTorch; eval mode changes nothing', async () => {
    const d = new PatchDiscriminator({ spatial_dims: 2, num_channels: 4, in_channels: 1, num_layers_d: 1 }).initialize(5);
    const x = tf.randomNormal([3, 16, 16, 1], 0, 1, 'float32', 7) as tf.Tensor4D;
    const outs = d.forward(x, { training: false });
    let sd = await d.stateDict();
    expect(Array.from(sd.get('0.adn.N.running_mean')!.data)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    const conv = outs[0];
    // Batch statistics of the BN input (conv of layer 0) computed independently.
    // With num_layers_d = 1 the only BN layer is the last one, which has stride 1.
    const pre = tf.conv2d(conv, d.params.get('0.conv.weight') as tf.Tensor4D, 1, 1);
    const { mean, variance } = tf.moments(pre, [0, 1, 2]);
    const n = pre.shape[0] * pre.shape[1]! * pre.shape[2]!;
    d.forward(x, { training: true });
    sd = await d.stateDict();
    const m = await mean.data();
    const v = await variance.data();
    const rm = sd.get('0.adn.N.running_mean')!.data;
    const rv = sd.get('0.adn.N.running_var')!.data;
    for (let i = 0; i < 8; i++) {
      expect(rm[i]).toBeCloseTo(0.1 * m[i], 5);
      expect(rv[i]).toBeCloseTo(0.9 + 0.1 * v[i] * (n / (n - 1)), 5);
    }
    expect(sd.get('0.adn.N.num_batches_tracked')!.data[0]).toBe(1);
    // Train-mode output of the BN layer is zero-mean per channel.
    const trainOut = d.forward(x, { training: true });
    const preAct = tf.moments(trainOut[1], [0, 1, 2]);
    expect(Math.abs((await preAct.mean.data())[0])).toBeLessThan(0.5);
    tf.dispose([x, pre, mean, variance, ...outs, ...trainOut]);
    d.dispose();
  });
});

import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { AutoencoderKL, DiffusionModelUNet, PatchDiscriminator, presetConfig } from '../../src/ml/networks';
import { multiHeadAttention } from '../../src/ml/nn';
import { useBackend } from './fixtures';

beforeAll(() => useBackend('wasm'));

/** The desktop latent's channels (the LDM's input). */
const LATENT = Number(presetConfig('diffusion_unet', 'desktop').in_channels);

describe('networks inside training loops', () => {
  it('optimizer.minimize over AE + discriminator (BatchNorm train mode) frees every intermediate and changes the weights', async () => {
    const ae = new AutoencoderKL({ ...presetConfig('autoencoderkl', 'desktop'), num_channels: [8, 16], attention_levels: [false, false], norm_num_groups: 4 }).initialize(1);
    const d = new PatchDiscriminator({ spatial_dims: 2, num_channels: 8, in_channels: 1, num_layers_d: 2 }).initialize(2);
    const opt = tf.train.adam(1e-3);
    const x = tf.randomUniform([2, 16, 24, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
    const step = (): number =>
      tf.tidy(() => {
        const loss = opt.minimize(
          () => {
            const { reconstruction, mu, sigma } = ae.forward(x, tf.randomNormal([2, 8, 12, LATENT], 0, 1, 'float32', 4) as tf.Tensor4D);
            const logits = d.forward(reconstruction, { training: true }).at(-1)!;
            const kl = tf.mean(tf.sub(tf.add(tf.square(mu), tf.square(sigma)), tf.log(tf.square(sigma))));
            return tf.addN([tf.mean(tf.abs(tf.sub(reconstruction, x))), tf.mul(1e-6, kl), tf.mul(0.01, tf.mean(tf.square(tf.sub(logits, 1))))]) as tf.Scalar;
          },
          true,
          [...ae.trainableVariables(), ...d.trainableVariables()],
        );
        return loss!.dataSync()[0];
      });
    const firstWeight = Array.from(await ae.params.get('encoder.blocks.0.conv.weight').data());
    const losses = [step()];
    const live = tf.memory().numTensors;
    for (let i = 0; i < 4; i++) losses.push(step());
    expect(tf.memory().numTensors).toBe(live);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(Array.from(await ae.params.get('encoder.blocks.0.conv.weight').data())).not.toEqual(firstWeight);
    const sd = await d.stateDict();
    expect(sd.get('0.adn.N.num_batches_tracked')!.data[0]).toBe(5);
    opt.dispose();
    x.dispose();
    ae.dispose();
    d.dispose();
  });

  it('a repeated UNet forward under tidy leaves no tensors behind', () => {
    const unet = new DiffusionModelUNet(presetConfig('diffusion_unet', 'desktop')).initialize(4);
    const x = tf.zeros([1, 8, 12, LATENT]) as tf.Tensor4D;
    const ctx = tf.zeros([1, 3, 64]) as tf.Tensor3D;
    const t = tf.tensor1d([5]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) tf.tidy(() => unet.forward(x, t, ctx)).dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, ctx, t]);
    unet.dispose();
  });
});

describe('timesteps', () => {
  it('a single timestep broadcasts over the batch like a repeated one', async () => {
    const unet = new DiffusionModelUNet({ ...presetConfig('diffusion_unet', 'desktop'), num_channels: [16, 32, 32], num_head_channels: [0, 32, 32] }).initialize(6);
    const x = tf.randomNormal([2, 8, 12, LATENT], 0, 1, 'float32', 8) as tf.Tensor4D;
    const ctx = tf.randomNormal([2, 3, 64], 0, 1, 'float32', 9) as tf.Tensor3D;
    const one = tf.tidy(() => unet.forward(x, tf.tensor1d([321]), ctx));
    const two = tf.tidy(() => unet.forward(x, tf.tensor1d([321, 321]), ctx));
    const [a, b] = await Promise.all([one.data(), two.data()]);
    expect(Array.from(a)).toEqual(Array.from(b));
    tf.dispose([x, ctx, one, two]);
    unet.dispose();
  });
});

describe('attention variants beyond the fixtures', () => {
  it('multi-head attention equals a per-head loop reference', async () => {
    const [b, n, m, heads, d] = [2, 5, 3, 4, 6];
    const q = tf.randomNormal([b, n, heads * d], 0, 1, 'float32', 1) as tf.Tensor3D;
    const k = tf.randomNormal([b, m, heads * d], 0, 1, 'float32', 2) as tf.Tensor3D;
    const v = tf.randomNormal([b, m, heads * d], 0, 1, 'float32', 3) as tf.Tensor3D;
    const got = await multiHeadAttention(q, k, v, heads, d).data();
    const [Q, K, V] = await Promise.all([q.data(), k.data(), v.data()]);
    const C = heads * d;
    const want = new Float64Array(b * n * C);
    for (let bi = 0; bi < b; bi++)
      for (let h = 0; h < heads; h++)
        for (let i = 0; i < n; i++) {
          const s: number[] = [];
          for (let j = 0; j < m; j++) {
            let dot = 0;
            for (let e = 0; e < d; e++) dot += Q[(bi * n + i) * C + h * d + e] * K[(bi * m + j) * C + h * d + e];
            s.push(dot / Math.sqrt(d));
          }
          const mx = Math.max(...s);
          const p = s.map((x) => Math.exp(x - mx));
          const z = p.reduce((a, c) => a + c, 0);
          for (let e = 0; e < d; e++) {
            let acc = 0;
            for (let j = 0; j < m; j++) acc += (p[j] / z) * V[(bi * m + j) * C + h * d + e];
            want[(bi * n + i) * C + h * d + e] = acc;
          }
        }
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i], 5);
    tf.dispose([q, k, v]);
  });

  it('an AE with attention levels and non-local attention builds MONAI AttentionBlock keys and runs', () => {
    const ae = new AutoencoderKL({
      spatial_dims: 2,
      in_channels: 1,
      out_channels: 1,
      num_channels: [8, 16],
      latent_channels: 3,
      num_res_blocks: 1,
      norm_num_groups: 4,
      attention_levels: [false, true],
      with_encoder_nonlocal_attn: true,
      with_decoder_nonlocal_attn: true,
    });
    const names = ae.parameterSpecs().map((s) => s.name);
    expect(names).toContain('encoder.blocks.4.to_q.weight');
    expect(names).toContain('encoder.blocks.6.proj_attn.weight');
    expect(names).toContain('decoder.blocks.2.to_k.bias');
    ae.initialize(0);
    const shape = tf.tidy(() => ae.reconstruct(tf.ones([1, 8, 8, 1]) as tf.Tensor4D).shape);
    expect(shape).toEqual([1, 8, 8, 1]);
    ae.dispose();
  });

  it('a UNet without conditioning uses self-attention blocks, several heads, and runs without a context', () => {
    const unet = new DiffusionModelUNet({
      spatial_dims: 2,
      in_channels: 2,
      out_channels: 2,
      num_channels: [8, 16],
      attention_levels: [false, true],
      num_res_blocks: 1,
      norm_num_groups: 4,
      num_head_channels: 4,
    }).initialize(0);
    expect(unet.parameterSpecs().some((s) => s.name === 'down_blocks.1.attentions.0.to_q.weight')).toBe(true);
    const shape = tf.tidy(() => unet.forward(tf.ones([2, 8, 8, 2]) as tf.Tensor4D, tf.tensor1d([3])).shape);
    expect(shape).toEqual([2, 8, 8, 2]);
    unet.dispose();
  });
});

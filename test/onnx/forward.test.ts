import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutoencoderKL, ControlNet, DiffusionModelUNet, type AutoencoderKLConfig, type ControlNetConfig, type DiffusionUNetConfig } from '../../src/ml/networks';
import { hostFromNhwc, nhwcFromHost } from '../../src/ml/nn';
import { OnnxAutoencoderRunner, OnnxControlledUNetRunner, OnnxControlNetRunner, OnnxUNetRunner } from '../../src/ml/onnx/runner';
import { loadOnnxRuntime, type OrtModule } from '../../src/ml/onnx/runtime';
import { fixture, hasShared, manifest, relativeL2, tensorOf, useBackend } from '../networks/fixtures';

/** ONNX graphs built from the project's networks against the MONAI goldens and the tfjs forward (wasm). */
const TOL = 1e-4;
const ortLoad = await loadOnnxRuntime();
if (!ortLoad.ort) console.warn(`onnx tests skipped: ${ortLoad.reason}`);

async function expectClose(name: string, got: tf.Tensor4D, golden: { shape: number[]; data: Float32Array }, tfjs?: tf.Tensor4D): Promise<void> {
  const host = await hostFromNhwc(got);
  expect(host.shape, name).toEqual(golden.shape);
  expect(relativeL2(host.data, golden.data), `${name} vs MONAI`).toBeLessThan(TOL);
  if (tfjs) expect(relativeL2(host.data, (await hostFromNhwc(tfjs)).data), `${name} vs tfjs`).toBeLessThan(TOL);
}

describe.skipIf(!hasShared || !ortLoad.ort)('ONNX graphs on the MONAI fixtures (CPU provider)', () => {
  const ort = ortLoad.ort as OrtModule;
  beforeAll(() => useBackend('wasm'));
  afterAll(() => tf.disposeVariables());

  it('AutoencoderKL encoder (z_mu, z_sigma) and decoder (reconstruction = decode(z_mu))', async () => {
    const ae = new AutoencoderKL(manifest().autoencoderkl as unknown as AutoencoderKLConfig);
    ae.loadStateDict(fixture('autoencoderkl.weights.safetensors').tensors);
    const io = fixture('autoencoderkl.io.safetensors');
    const runner = await OnnxAutoencoderRunner.create(ort, ae, { encoder: true });
    const x = nhwcFromHost(tensorOf(io, 'x'));
    const { mu, sigma } = await runner.encode(x);
    const tfjs = tf.tidy(() => {
      const e = ae.encode(x);
      return { mu: e.mu, sigma: e.sigma, rec: ae.decode(e.mu) };
    });
    await expectClose('z_mu', mu, tensorOf(io, 'z_mu'), tfjs.mu);
    await expectClose('z_sigma', sigma, tensorOf(io, 'z_sigma'), tfjs.sigma);
    const rec = await runner.decode(mu);
    await expectClose('reconstruction', rec, tensorOf(io, 'reconstruction'), tfjs.rec);
    tf.dispose([x, mu, sigma, rec, tfjs.mu, tfjs.sigma, tfjs.rec]);
    await runner.dispose();
    ae.dispose();
  });

  it('DiffusionModelUNet, ControlNet residuals, controlled UNet (separate and fused graphs)', async () => {
    const m = manifest();
    const unet = new DiffusionModelUNet(m.diffusion_unet as unknown as DiffusionUNetConfig);
    unet.loadStateDict(fixture('diffusion_unet.weights.safetensors').tensors);
    const cn = new ControlNet(m.controlnet as unknown as ControlNetConfig);
    cn.loadStateDict(fixture('controlnet.weights.safetensors').tensors);
    const io = fixture('diffusion_unet.io.safetensors');
    const scale = Number(io.metadata.conditioning_scale);
    const ctx = tensorOf(io, 'context');
    const x = nhwcFromHost(tensorOf(io, 'x_t'));
    const t = tf.tensor1d(tensorOf(io, 'timesteps').data);
    const context = tf.tensor3d(ctx.data, ctx.shape as [number, number, number]);
    const cond = nhwcFromHost(tensorOf(io, 'controlnet_cond'));

    const unetRunner = await OnnxUNetRunner.create(ort, unet, { residuals: true });
    const cnRunner = await OnnxControlNetRunner.create(ort, cn);
    const fused = await OnnxControlledUNetRunner.create(ort, unet, cn);

    const resList = tf.tidy(() => {
      const r = cn.forward(x, t, context, cond, scale);
      return [...r.down, r.mid];
    });
    const tfjsRes = { down: resList.slice(0, -1), mid: resList[resList.length - 1] };
    const tfjsPlain = tf.tidy(() => unet.forward(x, t, context));
    const tfjsControlled = tf.tidy(() => unet.forward(x, t, context, tfjsRes));

    const plain = await unetRunner.forward(x, t, context);
    await expectClose('unet_out', plain, tensorOf(io, 'unet_out'), tfjsPlain);
    const res = await cnRunner.forward(x, t, context, cond, scale);
    expect(res.down).toHaveLength(tfjsRes.down.length);
    for (let i = 0; i < res.down.length; i++) await expectClose(`down_residual_${i}`, res.down[i], tensorOf(io, `down_residual_${i}`), tfjsRes.down[i]);
    await expectClose('mid_residual', res.mid, tensorOf(io, 'mid_residual'), tfjsRes.mid);
    const controlled = await unetRunner.forward(x, t, context, res);
    await expectClose('controlled_unet_out', controlled, tensorOf(io, 'controlled_unet_out'), tfjsControlled);
    const fusedOut = await fused.forward(x, t, context, cond, scale);
    await expectClose('controlled_unet_out (fused graph)', fusedOut, tensorOf(io, 'controlled_unet_out'), tfjsControlled);

    // Timesteps of length 1 broadcast over the batch, as in the tfjs forward.
    const t1 = tf.tensor1d([tensorOf(io, 'timesteps').data[0]]);
    const tb = tf.fill([x.shape[0]], tensorOf(io, 'timesteps').data[0]) as tf.Tensor1D;
    const a = await fused.forward(x, t1, context, cond, scale);
    const b = await fused.forward(x, tb, context, cond, scale);
    expect(relativeL2(await a.data(), await b.data())).toBeLessThan(1e-6);

    tf.dispose([x, t, t1, tb, context, cond, plain, controlled, fusedOut, a, b, res.mid, ...res.down, tfjsPlain, tfjsControlled, tfjsRes.mid, ...tfjsRes.down]);
    await Promise.all([unetRunner.dispose(), cnRunner.dispose(), fused.dispose()]);
    unet.dispose();
    cn.dispose();
  });
});

describe.skipIf(!ortLoad.ort)('ONNX graphs for configurations the fixtures do not cover, against the tfjs forward', () => {
  const ort = ortLoad.ort as OrtModule;
  beforeAll(() => useBackend('wasm'));
  afterAll(() => tf.disposeVariables());

  const close = async (name: string, got: tf.Tensor4D, want: tf.Tensor4D) => {
    expect(got.shape, name).toEqual(want.shape);
    expect(relativeL2(await got.data(), await want.data()), name).toBeLessThan(TOL);
  };

  it('AutoencoderKL with attention levels and non-local attention (AttentionBlock, multi-level)', async () => {
    const ae = new AutoencoderKL({
      spatial_dims: 2,
      in_channels: 1,
      out_channels: 1,
      num_channels: [8, 16],
      latent_channels: 3,
      num_res_blocks: [1, 2],
      norm_num_groups: 4,
      attention_levels: [false, true],
    }).initialize(7);
    const runner = await OnnxAutoencoderRunner.create(ort, ae, { encoder: true });
    const x = tf.randomUniform([2, 16, 12, 1], 0, 1, 'float32', 3) as tf.Tensor4D;
    const want = tf.tidy(() => ae.encode(x));
    const got = await runner.encode(x);
    await close('z_mu', got.mu, want.mu);
    await close('z_sigma', got.sigma, want.sigma);
    const z = tf.randomNormal([2, 8, 6, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    await close('decode', await runner.decode(z), tf.tidy(() => ae.decode(z)));
    await runner.dispose();
    ae.dispose();
  });

  it('DiffusionModelUNet without conditioning (self-attention blocks, several heads)', async () => {
    const unet = new DiffusionModelUNet({
      spatial_dims: 2,
      in_channels: 2,
      out_channels: 2,
      num_channels: [8, 16],
      attention_levels: [false, true],
      num_res_blocks: 1,
      norm_num_groups: 4,
      num_head_channels: [4, 8],
    }).initialize(11);
    // Zero-initialised output convs would make every comparison trivially equal: randomise them.
    const sd = await unet.stateDict();
    let seed = 1;
    for (const [k, v] of sd) {
      if (/(conv2|out\.2|proj_out)\.conv\.(weight|bias)$/.test(k)) v.data.forEach((_, i) => (v.data[i] = Math.sin(seed++ * 12.9898) * 0.1));
    }
    unet.loadStateDict(sd);
    const runner = await OnnxUNetRunner.create(ort, unet);
    const x = tf.randomNormal([3, 8, 8, 2], 0, 1, 'float32', 9) as tf.Tensor4D;
    const t = tf.tensor1d([10, 500, 999]);
    await close('unet', await runner.forward(x, t), tf.tidy(() => unet.forward(x, t)));
    await runner.dispose();
    unet.dispose();
  });
});

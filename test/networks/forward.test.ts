import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutoencoderKL, ControlNet, DiffusionModelUNet, PatchDiscriminator, type AutoencoderKLConfig, type ControlNetConfig, type DiffusionUNetConfig, type PatchDiscriminatorConfig } from '../../src/ml/networks';
import { hostFromNhwc, nhwcFromHost } from '../../src/ml/nn';
import { fixture, hasShared, manifest, relativeL2, tensorOf, useBackend, type TestBackend } from './fixtures';

const TOL = 1e-4;

for (const backend of ['cpu', 'wasm'] as TestBackend[]) {
  describe.skipIf(!hasShared)(`MONAI fixture forward passes on ${backend}`, () => {
    beforeAll(() => useBackend(backend));
    afterAll(() => tf.disposeVariables());

    it('AutoencoderKL: z_mu, z_sigma and reconstruction = decode(z_mu) within relative L2 1e-4', async () => {
      const ae = new AutoencoderKL(manifest().autoencoderkl as unknown as AutoencoderKLConfig);
      ae.loadStateDict(fixture('autoencoderkl.weights.safetensors').tensors);
      const io = fixture('autoencoderkl.io.safetensors');
      const got = tf.tidy(() => {
        const { mu, sigma } = ae.encode(nhwcFromHost(tensorOf(io, 'x')));
        return { z_mu: mu, z_sigma: sigma, reconstruction: ae.decode(mu) };
      });
      for (const [name, t] of Object.entries(got)) {
        const host = await hostFromNhwc(t);
        expect(host.shape, name).toEqual(tensorOf(io, name).shape);
        expect(relativeL2(host.data, tensorOf(io, name).data), name).toBeLessThan(TOL);
      }
      tf.dispose(Object.values(got));
      ae.dispose();
    });

    it('DiffusionModelUNet, ControlNet residuals (scale from the file) and the controlled UNet within 1e-4', async () => {
      const m = manifest();
      const unet = new DiffusionModelUNet(m.diffusion_unet as unknown as DiffusionUNetConfig);
      unet.loadStateDict(fixture('diffusion_unet.weights.safetensors').tensors);
      const cn = new ControlNet(m.controlnet as unknown as ControlNetConfig);
      cn.loadStateDict(fixture('controlnet.weights.safetensors').tensors);
      const io = fixture('diffusion_unet.io.safetensors');
      const scale = Number(io.metadata.conditioning_scale);
      expect(scale).toBe(m.controlnet_conditioning_scale);
      const ctx = tensorOf(io, 'context');
      const got = tf.tidy(() => {
        const x = nhwcFromHost(tensorOf(io, 'x_t'));
        const t = tf.tensor1d(tensorOf(io, 'timesteps').data);
        const context = tf.tensor3d(ctx.data, ctx.shape as [number, number, number]);
        const res = cn.forward(x, t, context, nhwcFromHost(tensorOf(io, 'controlnet_cond')), scale);
        const out: Record<string, tf.Tensor4D> = { unet_out: unet.forward(x, t, context), mid_residual: res.mid };
        res.down.forEach((d, i) => (out[`down_residual_${i}`] = d));
        out.controlled_unet_out = unet.forward(x, t, context, res);
        return out;
      });
      expect(Object.keys(got)).toHaveLength(12);
      for (const [name, t] of Object.entries(got)) {
        const host = await hostFromNhwc(t);
        expect(host.shape, name).toEqual(tensorOf(io, name).shape);
        expect(relativeL2(host.data, tensorOf(io, name).data), name).toBeLessThan(TOL);
      }
      tf.dispose(Object.values(got));
      unet.dispose();
      cn.dispose();
    });

    it('PatchDiscriminator in eval mode returns out_0..out_4 within 1e-4', async () => {
      const d = new PatchDiscriminator(manifest().patch_discriminator as unknown as PatchDiscriminatorConfig);
      d.loadStateDict(fixture('patch_discriminator.weights.safetensors').tensors);
      const io = fixture('patch_discriminator.io.safetensors');
      const outs = tf.tidy(() => d.forward(nhwcFromHost(tensorOf(io, 'x')), { training: false }));
      expect(outs).toHaveLength(5);
      for (let i = 0; i < outs.length; i++) {
        const host = await hostFromNhwc(outs[i]);
        expect(host.shape).toEqual(tensorOf(io, `out_${i}`).shape);
        expect(relativeL2(host.data, tensorOf(io, `out_${i}`).data), `out_${i}`).toBeLessThan(TOL);
      }
      tf.dispose(outs);
      d.dispose();
    });
  });
}

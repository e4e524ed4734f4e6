import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutoencoderKL, ControlNet, DiffusionModelUNet, PatchDiscriminator, type AutoencoderKLConfig, type ControlNetConfig, type DiffusionUNetConfig, type Network, type PatchDiscriminatorConfig } from '../../src/ml/networks';
import { nhwcFromHost, nhwcToNchw, tfToTorch } from '../../src/ml/nn';
import { canTrainConvs, fixture, hasShared, manifest, relativeL2, tensorOf, useBackend, type TestBackend } from './fixtures';

/**
 * Parameter gradients under the loss stated in each <net>.grads.safetensors __metadata__, compared
 * per tensor (PyTorch layout) within relative L2 1e-3. This is how a backend proves it trains.
 */
const TOL = 1e-3;

async function expectGradients(net: Network, fileName: string, lossFn: () => tf.Scalar, extra: Record<string, tf.Variable> = {}): Promise<void> {
  const file = fixture(fileName);
  const named = net.namedTrainables();
  const vars = [...named.map(([, v]) => v), ...Object.values(extra)];
  const { value, grads } = tf.variableGrads(lossFn, vars);
  expect(relativeL2(await value.data(), tensorOf(file, 'loss').data), 'loss').toBeLessThan(1e-5);
  const specs = new Map(net.parameterSpecs().map((s) => [s.name, s]));
  const failures: string[] = [];
  for (const [name, v] of named) {
    const spec = specs.get(name)!;
    const g = grads[v.name];
    const expected = tensorOf(file, `grad.${name}`);
    const got = tfToTorch(spec.layout, spec.shape, (await g.data()) as Float32Array);
    const err = relativeL2(got, expected.data);
    if (!(err < TOL)) failures.push(`${name}: ${err.toExponential(2)}`);
  }
  for (const [name, v] of Object.entries(extra)) {
    const nchw = nhwcToNchw(grads[v.name]);
    const err = relativeL2((await nchw.data()) as Float32Array, tensorOf(file, name).data);
    nchw.dispose();
    if (!(err < TOL)) failures.push(`${name}: ${err.toExponential(2)}`);
  }
  expect(failures, `gradients off by more than ${TOL}`).toEqual([]);
  expect(Object.keys(grads)).toHaveLength(vars.length);
  expect(file.tensors.size).toBeGreaterThanOrEqual(named.length + 1);
  tf.dispose([value, ...Object.values(grads)]);
}

for (const backend of ['cpu', 'wasm'] as TestBackend[]) {
  describe.skipIf(!hasShared)(`MONAI fixture gradients on ${backend}`, () => {
    let trainable = false;
    beforeAll(async () => {
      await useBackend(backend);
      trainable = canTrainConvs(backend);
    });
    afterAll(() => tf.disposeVariables());

    it('AutoencoderKL: mean|decode(mu)-x| + 1e-3 * KL', async (ctx) => {
      if (!trainable) ctx.skip(`${backend} has no Conv2DBackpropFilter kernel (engine kernel fixes not registered)`);
      const ae = new AutoencoderKL(manifest().autoencoderkl as unknown as AutoencoderKLConfig);
      ae.loadStateDict(fixture('autoencoderkl.weights.safetensors').tensors);
      const x = nhwcFromHost(tensorOf(fixture('autoencoderkl.io.safetensors'), 'x'));
      expect(fixture('autoencoderkl.grads.safetensors').metadata.loss).toContain('1e-3*sum_batch(KL)/B');
      await expectGradients(ae, 'autoencoderkl.grads.safetensors', () => {
        const { mu, sigma } = ae.encode(x);
        const l1 = tf.mean(tf.abs(tf.sub(ae.decode(mu), x)));
        const s2 = tf.square(sigma);
        const kl = tf.mul(0.5, tf.sum(tf.sub(tf.sub(tf.add(tf.square(mu), s2), tf.log(s2)), 1)));
        return tf.add(l1, tf.mul(1e-3, tf.div(kl, x.shape[0]))) as tf.Scalar;
      });
      x.dispose();
      ae.dispose();
    });

    it('DiffusionModelUNet: mean((unet(x_t,t,context)-target)^2), incl. the input gradient', async (ctx) => {
      if (!trainable) ctx.skip(`${backend} has no Conv2DBackpropFilter kernel (engine kernel fixes not registered)`);
      const unet = new DiffusionModelUNet(manifest().diffusion_unet as unknown as DiffusionUNetConfig);
      unet.loadStateDict(fixture('diffusion_unet.weights.safetensors').tensors);
      const io = fixture('diffusion_unet.io.safetensors');
      const grads = fixture('diffusion_unet.grads.safetensors');
      const c = tensorOf(io, 'context');
      const xt = tf.variable(nhwcFromHost(tensorOf(io, 'x_t')));
      const t = tf.tensor1d(tensorOf(io, 'timesteps').data);
      const context = tf.tensor3d(c.data, c.shape as [number, number, number]);
      const target = nhwcFromHost(tensorOf(grads, 'target'));
      await expectGradients(unet, 'diffusion_unet.grads.safetensors', () => tf.mean(tf.squaredDifference(unet.forward(xt, t, context), target)), {
        'grad_input.x_t': xt,
      });
      tf.dispose([xt, t, context, target]);
      unet.dispose();
    });

    it('ControlNet: gradients through the frozen UNet at conditioning scale 0.7', async (ctx) => {
      if (!trainable) ctx.skip(`${backend} has no Conv2DBackpropFilter kernel (engine kernel fixes not registered)`);
      const m = manifest();
      const unet = new DiffusionModelUNet(m.diffusion_unet as unknown as DiffusionUNetConfig);
      unet.loadStateDict(fixture('diffusion_unet.weights.safetensors').tensors);
      const cn = new ControlNet(m.controlnet as unknown as ControlNetConfig);
      cn.loadStateDict(fixture('controlnet.weights.safetensors').tensors);
      const io = fixture('diffusion_unet.io.safetensors');
      const grads = fixture('controlnet.grads.safetensors');
      expect(grads.metadata.loss).toContain('scale 0.7');
      const c = tensorOf(io, 'context');
      const xt = nhwcFromHost(tensorOf(io, 'x_t'));
      const t = tf.tensor1d(tensorOf(io, 'timesteps').data);
      const context = tf.tensor3d(c.data, c.shape as [number, number, number]);
      const cond = nhwcFromHost(tensorOf(io, 'controlnet_cond'));
      const target = nhwcFromHost(tensorOf(grads, 'target'));
      await expectGradients(cn, 'controlnet.grads.safetensors', () => {
        const res = cn.forward(xt, t, context, cond, 0.7);
        return tf.mean(tf.squaredDifference(unet.forward(xt, t, context, res), target));
      });
      tf.dispose([xt, t, context, cond, target]);
      unet.dispose();
      cn.dispose();
    });

    it('PatchDiscriminator in train mode (batch statistics): mean((D(x)[-1]-1)^2)', async (ctx) => {
      if (!trainable) ctx.skip(`${backend} has no Conv2DBackpropFilter kernel (engine kernel fixes not registered)`);
      const d = new PatchDiscriminator(manifest().patch_discriminator as unknown as PatchDiscriminatorConfig);
      d.loadStateDict(fixture('patch_discriminator.weights.safetensors').tensors);
      const x = nhwcFromHost(tensorOf(fixture('patch_discriminator.io.safetensors'), 'x'));
      await expectGradients(d, 'patch_discriminator.grads.safetensors', () => {
        const outs = d.forward(x, { training: true });
        return tf.mean(tf.square(tf.sub(outs[outs.length - 1], 1)));
      });
      x.dispose();
      d.dispose();
    });
  });
}

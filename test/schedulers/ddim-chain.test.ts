import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors, type HostTensor, type SafetensorsFile } from '../../src/ml/io';
import { DiffusionModelUNet, type DiffusionUNetConfig } from '../../src/ml/networks';
import { hostFromNhwc, nhwcFromHost } from '../../src/ml/nn';
import { DDIMScheduler, REFERENCE_DDIM } from '../../src/ml/schedulers';
import { readFileSync } from 'node:fs';
import { hasShared, sharedPath } from '../helpers/shared';
import { initEngine } from '../../src/ml/engine';
import { relativeL2 } from '../../src/ml/util/relative-l2';

const dir = 'fixtures/monai';
const reason = `../shared not found (${dir}); set BRAINSYNTH_SHARED to run the MONAI DDIM chain check`;

function tensorOf(file: SafetensorsFile, name: string): HostTensor {
  const t = file.tensors.get(name);
  if (!t) throw new Error(`fixture tensor ${name} missing`);
  return t;
}


describe.skipIf(!hasShared)(hasShared ? 'DDIM chain driven by the MONAI fixture UNet (v-prediction, eta 0)' : reason, () => {
  beforeAll(async () => {
    await initEngine({ backend: 'cpu' });
  });
  afterAll(() => tf.disposeVariables());

  it('three steps from ddim_start match ddim_after_step_0..2 within relative L2 1e-4', async () => {
    const manifest = JSON.parse(readFileSync(sharedPath(dir, 'manifest.json'), 'utf8')) as {
      diffusion_unet: DiffusionUNetConfig;
      schedulers: { ddim_num_inference_steps: number };
    };
    const unet = new DiffusionModelUNet(manifest.diffusion_unet);
    unet.loadStateDict(readSafetensors(sharedPath(dir, 'diffusion_unet.weights.safetensors')).tensors);
    const io = readSafetensors(sharedPath(dir, 'schedulers.io.safetensors'));
    // The chain conditions on the UNet fixture's context.
    const unetIo = readSafetensors(sharedPath(dir, 'diffusion_unet.io.safetensors'));
    const ctx = tensorOf(unetIo, 'context');
    const ddim = new DDIMScheduler(REFERENCE_DDIM);
    ddim.setTimesteps(manifest.schedulers.ddim_num_inference_steps);
    let x = nhwcFromHost(tensorOf(io, 'ddim_start'));
    const context = tf.tensor3d(ctx.data as Float32Array, ctx.shape as [number, number, number]);
    for (let k = 0; k < 3; k++) {
      const t = ddim.timesteps[k];
      const next = tf.tidy(() => {
        const v = unet.forward(x, tf.tensor1d([t, t]), context);
        return ddim.step(v, t, x).prevSample as tf.Tensor4D;
      });
      x.dispose();
      x = next;
      const host = await hostFromNhwc(x);
      const want = tensorOf(io, `ddim_after_step_${k}`);
      expect(host.shape).toEqual(want.shape);
      expect(relativeL2(host.data, want.data), `after step ${k} (t=${t})`).toBeLessThan(1e-4);
    }
    x.dispose();
    context.dispose();
    unet.dispose();
  });
});

/**
 * Sampling throughput of a desktop-preset pipeline (AE + UNet + ControlNet as the desktop training
 * preset builds them, random weights: speed does not depend on the values) at 80x112: guided DDIM
 * steps (classifier-free guidance doubles the batch, ControlNet + UNet per step, as the reference sampler does), then the
 * projected time per slice at the reference's 200 steps and for a whole MNI volume (~140 axial
 * slices with brain signal on the 182x218x182 grid).
 *
 * For wasm/cpu the times are process CPU time (single-threaded backends), which stays meaningful
 * on a shared machine; wall-clock times are in each result's detail.
 *
 * `npm run bench -- sample`. Env: BENCH_BACKEND=wasm  BENCH_STEPS=4.
 */
import { initEngine, type BackendName } from '../src/ml/engine';
import { AutoencoderKL, type AutoencoderKLConfig } from '../src/ml/networks/autoencoder-kl';
import { ControlNet, type ControlNetConfig } from '../src/ml/networks/controlnet';
import { DiffusionModelUNet, type DiffusionUNetConfig } from '../src/ml/networks/diffusion-unet';
import type { SamplingPipeline } from '../src/ml/pipeline';
import { translateSlices } from '../src/ml/sample/sampler';
import { REFERENCE_SCHEDULER } from '../src/ml/train/config';
import { ConditioningContext } from '../src/ml/pipeline/context';
import { networkPresets } from '../src/ml/train/presets';
import { Rng } from '../src/ml/util/rng';
import type { BenchResult } from './_common';

const STEPS = Number(process.env.BENCH_STEPS ?? 4);
const BACKEND = (process.env.BENCH_BACKEND ?? 'wasm') as BackendName;
const VOLUME_SLICES = 140;

function desktopPipeline(): SamplingPipeline {
  const n = networkPresets('desktop');
  const unetCfg = n.unet as unknown as DiffusionUNetConfig;
  const { out_channels: _unused, ...encoder } = unetCfg;
  const ae = new AutoencoderKL(n.autoencoder as unknown as AutoencoderKLConfig).initialize(1);
  const unet = new DiffusionModelUNet(unetCfg).initialize(2);
  const controlnet = new ControlNet({ ...encoder, ...(n.controlnet as object) } as ControlNetConfig).initialize(3);
  const context = ConditioningContext.learned(4, unet.config.crossAttentionDim ?? 64, Rng.fromSeed(4));
  return {
    ae,
    unet,
    controlnet,
    context,
    info: {
      imageSize: [80, 112],
      latentScale: 0.3,
      latentScaleFrom: 'default',
      scheduler: { ...REFERENCE_SCHEDULER },
      conditioningScale: 1,
      guidanceScale: 7,
      checkpoints: { controlnet: null, ldm: '(random)', autoencoder: '(random)' },
      steps: { controlnet: null, ldm: 0, autoencoder: 0 },
      contextSource: 'learned (random)',
    },
    dispose() {
      ae.dispose();
      unet.dispose();
      controlnet.dispose();
      context.dispose();
    },
  };
}

async function timed(fn: () => Promise<unknown>): Promise<{ cpu: number; wall: number }> {
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  await fn();
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / 1e6, wall: (performance.now() - w0) / 1000 };
}

export default async function (): Promise<{ description: string; results: BenchResult[] }> {
  const engine = await initEngine({ backend: BACKEND });
  const singleThreaded = engine.backend === 'wasm' || engine.backend === 'cpu';
  const p = desktopPipeline();
  const results: BenchResult[] = [];
  try {
    for (const batch of [1, 4]) {
      const flair = new Float32Array(batch * 80 * 112).fill(0.4);
      const seeds = Array.from({ length: batch }, (_, i) => i);
      await translateSlices(p, flair, { seeds, steps: 1 }); // warm-up (kernels, first allocations)
      const one = await timed(() => translateSlices(p, flair, { seeds, steps: 1 }));
      const many = await timed(() => translateSlices(p, flair, { seeds, steps: 1 + STEPS }));
      const pick = (t: { cpu: number; wall: number }) => (singleThreaded ? t.cpu : t.wall);
      const perStep = (pick(many) - pick(one)) / STEPS / batch;
      const decode = Math.max(0, pick(one) / batch - perStep);
      const perSlice200 = perStep * 200 + decode;
      const detail = { backend: engine.backend, batch, steps: STEPS, wallPerStepPerSlice: (many.wall - one.wall) / STEPS / batch, timeBasis: singleThreaded ? 'process CPU' : 'wall' };
      results.push({ case: `guided DDIM step per slice, batch ${batch} (${engine.backend})`, value: perStep, unit: 's', detail });
      results.push({ case: `slice at 200 steps, batch ${batch}`, value: perSlice200, unit: 's', detail });
      if (batch === 4) {
        results.push({ case: `${VOLUME_SLICES}-slice volume at 200 steps`, value: (perSlice200 * VOLUME_SLICES) / 60, unit: 'min', detail });
        results.push({ case: `${VOLUME_SLICES}-slice volume at 50 steps`, value: ((perStep * 50 + decode) * VOLUME_SLICES) / 60, unit: 'min', detail });
      }
    }
  } finally {
    p.dispose();
  }
  return { description: 'desktop-preset ControlNet sampling (80x112, CFG 7, DDIM)', results };
}

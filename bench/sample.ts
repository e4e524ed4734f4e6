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
 * Then, in the same run, the guided DDIM step per slice at batch 4 on onnxruntime (graphs built
 * from the same networks, every core) against tfjs, alternating, wall clock (onnxruntime is
 * multi-threaded): value = onnx / tfjs. With Debian's PyTorch at /usr/bin/python3, the torch
 * anchor (../shared/tools/torch-anchor/bench.py, same networks, same cores) is timed too.
 *
 * `npm run bench -- sample`. Env: BENCH_BACKEND=wasm  BENCH_STEPS=4  BENCH_ONNX=0 (skip onnx)
 * BENCH_TORCH=0 (skip the anchor).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { initEngine, type BackendName } from '../src/ml/engine';
import { AutoencoderKL, type AutoencoderKLConfig } from '../src/ml/networks/autoencoder-kl';
import { ControlNet, type ControlNetConfig } from '../src/ml/networks/controlnet';
import { DiffusionModelUNet, type DiffusionUNetConfig } from '../src/ml/networks/diffusion-unet';
import { useNativeInference } from '../src/ml/sample/native';
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
      brainMask: false,
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

/**
 * Seconds per guided step per slice: (1 + STEPS steps) - (1 step), so decode and setup cancel.
 * cpu is the whole process's CPU time (onnxruntime's threads included).
 */
async function perStep(p: SamplingPipeline, batch: number): Promise<{ wall: number; cpu: number }> {
  const flair = new Float32Array(batch * 80 * 112).fill(0.4);
  const seeds = Array.from({ length: batch }, (_, i) => i);
  const one = await timed(() => translateSlices(p, flair, { seeds, steps: 1 }));
  const many = await timed(() => translateSlices(p, flair, { seeds, steps: 1 + STEPS }));
  return { wall: (many.wall - one.wall) / STEPS / batch, cpu: (many.cpu - one.cpu) / STEPS / batch };
}

interface AnchorCase {
  wall_ms: number;
  cpu_ms: number;
}

/**
 * The torch anchor's guided-step figure (ms per slice, batch 4, desktop preset), best of 1 and
 * `threads` threads (PyTorch's OpenMP threads collapse when another process holds a core), or why not.
 */
function torchAnchor(threads: number): { torchMs: number; byThreads: Record<string, AnchorCase>; torch: string } | string {
  if (process.env.BENCH_TORCH === '0') return 'skipped (BENCH_TORCH=0)';
  const script = resolve(process.env.BRAINSYNTH_SHARED ?? join(process.cwd(), '..', 'shared'), 'tools/torch-anchor/bench.py');
  if (!existsSync(script)) return `no anchor at ${script}`;
  if (!existsSync('/usr/bin/python3')) return 'no /usr/bin/python3';
  const byThreads: Record<string, AnchorCase> = {};
  let torch = '';
  for (const n of [...new Set([1, threads])]) {
    const r = spawnSync('/usr/bin/python3', [script, '--preset', 'desktop', '--threads', String(n), '--reps', '5'], { encoding: 'utf8', timeout: 15 * 60_000 });
    if (r.status !== 0) return `anchor failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`;
    const out = JSON.parse(r.stdout) as { cases: Record<string, AnchorCase>; torch: string };
    const c = out.cases['guided DDIM step per slice, batch 4'];
    if (!c) return 'the anchor has no "guided DDIM step per slice, batch 4" case';
    byThreads[n] = c;
    torch = out.torch;
  }
  return { torchMs: Math.min(...Object.values(byThreads).map((c) => c.wall_ms)), byThreads, torch };
}

/** ONNX against tfjs (and the torch anchor) for the guided step per slice at batch 4, one run. */
async function onnxVsTfjs(p: SamplingPipeline, backend: string): Promise<BenchResult[]> {
  const batch = 4;
  const threads = availableParallelism();
  const native = await useNativeInference(p, { threads });
  if (native.engine !== 'onnx') {
    console.error(`onnx case skipped: ${native.notes.join('; ')}`);
    return [];
  }
  const onnx = p.runners ?? null;
  const use = (r: typeof onnx) => (p.runners = r);
  use(onnx);
  await translateSlices(p, new Float32Array(batch * 80 * 112).fill(0.4), { seeds: [0, 1, 2, 3], steps: 1 }); // warm-up
  const t: Array<{ wall: number; cpu: number }> = [];
  const o: Array<{ wall: number; cpu: number }> = [];
  // Alternate so machine load drifts hit both alike; keep each side's best.
  for (let round = 0; round < 2; round++) {
    use(null);
    t.push(await perStep(p, batch));
    use(onnx);
    o.push(await perStep(p, batch));
  }
  const tfjsS = Math.min(...t.map((v) => v.wall));
  const onnxS = Math.min(...o.map((v) => v.wall));
  const ms = (v: { wall: number; cpu: number }) => ({ wall: v.wall * 1e3, cpu: v.cpu * 1e3 });
  const detail: Record<string, unknown> = {
    onnx: native.description,
    onnxNotes: native.notes,
    tfjs: backend,
    onnxMs: onnxS * 1e3,
    tfjsMs: tfjsS * 1e3,
    rounds: { onnx: o.map(ms), tfjs: t.map(ms) },
    timeBasis: 'wall (best round)',
    steps: STEPS,
    loadavg: loadavg(),
  };
  const results: BenchResult[] = [
    { case: `guided DDIM step per slice, batch ${batch} (${native.description})`, value: onnxS, unit: 's', detail },
    { case: `onnx / tfjs-${backend}, guided DDIM step per slice, batch ${batch}`, value: onnxS / tfjsS, unit: 'ratio', target: { op: '<=', value: 1 }, detail },
  ];
  const anchor = torchAnchor(threads);
  if (typeof anchor === 'string') console.error(`torch anchor: ${anchor}`);
  else {
    const d = { ...detail, torchMs: anchor.torchMs, torchMsByThreads: anchor.byThreads, torch: anchor.torch, loadavg: loadavg(), note: 'torch times the network forward only, after the brainsynth rounds; brainsynth the whole step' };
    results.push({ case: `onnx / pytorch, guided DDIM step per slice, batch ${batch}`, value: (onnxS * 1e3) / anchor.torchMs, unit: 'ratio', target: { op: '<=', value: 1 }, detail: d });
    results.push({ case: `tfjs-${backend} / pytorch, guided DDIM step per slice, batch ${batch}`, value: (tfjsS * 1e3) / anchor.torchMs, unit: 'ratio', detail: d });
  }
  return results;
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
    if (process.env.BENCH_ONNX !== '0') results.push(...(await onnxVsTfjs(p, engine.backend)));
  } finally {
    void p.runners?.dispose();
    p.dispose();
  }
  return { description: 'desktop-preset ControlNet sampling (80x112, CFG 7, DDIM)', results };
}

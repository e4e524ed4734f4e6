/**
 * brainsynth against PyTorch on this machine, side by side in one run: the torch anchor
 * (../shared/tools/torch-anchor/bench.py, MONAI Generative on Debian's python3-torch) and the same
 * cases on the project's engine, alternating (anchor, project, anchor, project, ...) so machine
 * load drifts over both alike, each allowed the same cores (torch --threads N; wasm with N XNNPACK
 * threads). One result per anchor case: value = brainsynth wall ms / PyTorch wall ms (medians over
 * rounds of per-round medians), both times in detail. Wall against wall: a backend that leaves a
 * core idle pays for it here.
 *
 * `npm run bench -- vs-torch`. Env: BENCH_PRESET=desktop|reference (reference: batch 2 training),
 * BENCH_THREADS (default: every core), BENCH_REPS=5, BENCH_ROUNDS=2, BENCH_BACKEND=wasm,
 * BENCH_PYTHON=/usr/bin/python3, TORCH_ANCHOR=path/to/bench.py, BENCH_WASM_THREADS (default
 * BENCH_THREADS; 1 reproduces single-threaded wasm against the same PyTorch). Without python3 +
 * torch it says why and records no results.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initEngine, type BackendName } from '../src/ml/engine';
import { klLoss, l1Loss, mseLoss } from '../src/ml/losses/basic';
import { createNetwork, presetConfig, type PresetName } from '../src/ml/networks';
import { adam, adamw, namedGrads, type Adam, type NamedVariables } from '../src/ml/train/optim';
import { OnnxAutoencoderRunner, OnnxControlledUNetRunner } from '../src/ml/onnx/runner';
import { loadOnnxRuntime } from '../src/ml/onnx/runtime';
import type { BenchResult } from './_common';

const PRESET: PresetName = process.env.BENCH_PRESET === 'reference' ? 'reference' : 'desktop';
const THREADS = Number(process.env.BENCH_THREADS ?? availableParallelism());
const REPS = Number(process.env.BENCH_REPS ?? 5);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2));
const BACKEND = (process.env.BENCH_BACKEND ?? 'wasm') as BackendName;
const WASM_THREADS = Number(process.env.BENCH_WASM_THREADS ?? THREADS);
const PYTHON = process.env.BENCH_PYTHON ?? '/usr/bin/python3';
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ANCHOR = process.env.TORCH_ANCHOR ?? resolve(ROOT, '..', 'shared', 'tools', 'torch-anchor', 'bench.py');
const WARMUP = 2;

// The anchor's shapes (bench.py): images, latents, latent channels, context tokens x width,
// training batch. The anchor builds 3-channel latents for both presets; the desktop preset's own
// latent has 8, so the networks below are built with the anchor's count to time the same work.
const SHAPES = {
  desktop: { image: [80, 112], latent: [20, 28], channels: 3, tokens: 4, dim: 64, trainBatch: 8 },
  reference: { image: [160, 224], latent: [20, 28], channels: 3, tokens: 77, dim: 1024, trainBatch: 2 },
}[PRESET];

interface Times {
  wall_ms: number;
  cpu_ms: number;
}
type CaseTimes = Record<string, Times>;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Why the anchor cannot run here, or null when it can. */
function anchorUnavailable(): string | null {
  if (!existsSync(ANCHOR)) return `torch anchor not found at ${ANCHOR}`;
  const probe = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (probe.error) return `${PYTHON} not runnable (${probe.error.message}); install Debian's python3-torch`;
  if (probe.status !== 0) return `${PYTHON} cannot import torch (${probe.stderr.trim().split('\n').pop() ?? 'no message'}); apt-get install -y python3-torch`;
  return null;
}

function runAnchor(): { torch: string; cases: CaseTimes } {
  const args = [ANCHOR, '--preset', PRESET, '--threads', String(THREADS), '--reps', String(REPS)];
  const r = spawnSync(PYTHON, args, { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`torch anchor failed (exit ${r.status ?? r.signal}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const out = JSON.parse(r.stdout) as { torch: string; cases: CaseTimes };
  return out;
}

/** Median wall and process-CPU ms of `fn` (which returns a tensor, or its promise, to wait for and dispose). */
async function timed(fn: () => tf.Tensor | Promise<tf.Tensor>, reps: number): Promise<Times> {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < WARMUP + reps; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const out = await fn();
    await out.data();
    const dt = performance.now() - t0;
    const c = process.cpuUsage(c0);
    out.dispose();
    if (i >= WARMUP) {
      wall.push(dt);
      cpu.push((c.user + c.system) / 1000);
    }
  }
  return { wall_ms: median(wall), cpu_ms: median(cpu) };
}

function per(t: Times, n: number): Times {
  return { wall_ms: t.wall_ms / n, cpu_ms: t.cpu_ms / n };
}

function trainStep(loss: () => tf.Scalar, params: NamedVariables, opt: Adam): () => tf.Tensor {
  return () =>
    tf.tidy(() => {
      const { value, grads } = namedGrads(loss, params);
      opt.apply(grads);
      return value;
    });
}

/** What ran the sampling and decode cases (set by runProject). */
let inferenceEngine = 'tfjs';

/** The anchor's cases on the project's engine; a case that fails records why instead. */
async function runProject(failures: Record<string, string>): Promise<CaseTimes> {
  const { image, latent, channels, tokens, dim, trainBatch } = SHAPES;
  const [ih, iw] = image as [number, number];
  const [lh, lw] = latent as [number, number];
  const out: CaseTimes = {};
  const attempt = async (name: string, fn: () => Promise<Times>): Promise<void> => {
    try {
      out[name] = await fn();
    } catch (e) {
      failures[name] = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    }
  };
  const ae = createNetwork('autoencoderkl', { ...presetConfig('autoencoderkl', PRESET), latent_channels: channels }).initialize(1);
  const unet = createNetwork('diffusion_unet', { ...presetConfig('diffusion_unet', PRESET), in_channels: channels, out_channels: channels }).initialize(2);
  const cn = createNetwork('controlnet', { ...presetConfig('controlnet', PRESET), in_channels: channels }).initialize(3);
  // Sampling and decoding run on onnxruntime in the product wherever it loads: time that path.
  const { ort } = process.env.BRAINSYNTH_ONNX === '0' ? { ort: null } : await loadOnnxRuntime();
  const controlled = ort ? await OnnxControlledUNetRunner.create(ort, unet, cn, { threads: THREADS }) : null;
  const decoder = ort ? await OnnxAutoencoderRunner.create(ort, ae, { threads: THREADS }) : null;
  inferenceEngine = controlled ? `onnxruntime (${THREADS} threads)` : 'tfjs';
  try {
    for (const b of [1, 4]) {
      await attempt(`guided DDIM step per slice, batch ${b}`, async () => {
        const n = 2 * b; // classifier-free guidance doubles the batch
        const z = tf.randomNormal([n, lh, lw, channels], 0, 1, 'float32', 4) as tf.Tensor4D;
        const ctx = tf.randomNormal([n, tokens, dim], 0, 1, 'float32', 5) as tf.Tensor3D;
        const t = tf.fill([n], 500, 'int32') as tf.Tensor1D;
        const cond = tf.randomUniform([n, ih, iw, 1], 0, 1, 'float32', 6) as tf.Tensor4D;
        try {
          const step = controlled
            ? () => controlled.forward(z, t, ctx, cond, 1)
            : () => tf.tidy(() => unet.forward(z, t, ctx, cn.forward(z, t, ctx, cond, 1)));
          return per(await timed(step, Math.max(3, REPS)), b);
        } finally {
          tf.dispose([z, ctx, t, cond]);
        }
      });
    }
    await attempt('decode per slice, batch 4', async () => {
      const z = tf.randomNormal([4, lh, lw, channels], 0, 1, 'float32', 7) as tf.Tensor4D;
      try {
        return per(await timed(decoder ? () => decoder.decode(z) : () => tf.tidy(() => ae.decode(z)), REPS), 4);
      } finally {
        z.dispose();
      }
    });
    const B = trainBatch;
    const zb = tf.randomNormal([B, lh, lw, channels], 0, 1, 'float32', 8) as tf.Tensor4D;
    const cb = tf.randomUniform([B, ih, iw, 1], 0, 1, 'float32', 9) as tf.Tensor4D;
    const cx = tf.randomNormal([B, tokens, dim], 0, 1, 'float32', 10) as tf.Tensor3D;
    const tb = tf.tensor1d(Array.from({ length: B }, (_, i) => (i * 389) % 1000), 'int32');
    const xb = tf.randomUniform([B, ih, iw, 1], 0, 1, 'float32', 11) as tf.Tensor4D;
    try {
      await attempt(`unet train step, batch ${B}`, async () => {
        const params = Object.fromEntries(unet.namedTrainables());
        const opt = adam(params, { lr: 1e-4 });
        try {
          return await timed(trainStep(() => mseLoss(unet.forward(zb, tb, cx), zb), params, opt), REPS);
        } finally {
          opt.dispose();
        }
      });
      await attempt(`controlnet train step (frozen unet), batch ${B}`, async () => {
        const params = Object.fromEntries(cn.namedTrainables());
        const opt = adamw(params, { lr: 1e-4 });
        try {
          const loss = () => mseLoss(unet.forward(zb, tb, cx, cn.forward(zb, tb, cx, cb, 1)), zb);
          return await timed(trainStep(loss, params, opt), REPS);
        } finally {
          opt.dispose();
        }
      });
      await attempt(`autoencoder train step (L1+KL), batch ${B}`, async () => {
        const params = Object.fromEntries(ae.namedTrainables());
        const opt = adam(params, { lr: 1e-4 });
        try {
          const loss = () => {
            const { reconstruction, mu, sigma } = ae.forward(xb);
            return tf.add(l1Loss(reconstruction, xb), tf.mul(klLoss(mu, sigma), 1e-6)) as tf.Scalar;
          };
          return await timed(trainStep(loss, params, opt), REPS);
        } finally {
          opt.dispose();
        }
      });
    } finally {
      tf.dispose([zb, cb, cx, tb, xb]);
    }
  } finally {
    await controlled?.dispose();
    await decoder?.dispose();
    ae.dispose();
    unet.dispose();
    cn.dispose();
  }
  return out;
}

function isTrainCase(name: string): boolean {
  return name.includes('train step');
}

export default async function vsTorchBench(): Promise<{ description: string; results: BenchResult[] }> {
  const missing = anchorUnavailable();
  if (missing) {
    process.stdout.write(`[vs-torch] skipped: ${missing}\n`);
    return { description: `skipped: ${missing}`, results: [] };
  }
  const info = await initEngine({ backend: BACKEND, wasmThreads: WASM_THREADS });
  process.stdout.write(`[vs-torch] ${PRESET} preset, ${THREADS} thread(s) each: PyTorch vs brainsynth ${info.backend}${info.wasmThreads ? ` (${info.wasmThreads} XNNPACK threads)` : ''}, ${ROUNDS} alternating round(s)\n`);
  const load = loadavg()[0] ?? 0;
  if (THREADS > 1 && load + THREADS > availableParallelism() + 0.5) {
    // Both thread pools stall at every kernel's barrier when a thread is descheduled.
    process.stdout.write(`[vs-torch] note: load average ${load.toFixed(1)} on ${availableParallelism()} cores; with ${THREADS} threads each side's barriers stall on an oversubscribed machine (BENCH_THREADS=1 compares the work itself)\n`);
  }
  const torchRounds: CaseTimes[] = [];
  const ourRounds: CaseTimes[] = [];
  const failures: Record<string, string> = {};
  let torchVersion = '';
  for (let r = 0; r < ROUNDS; r++) {
    const anchor = runAnchor();
    torchVersion = anchor.torch;
    torchRounds.push(anchor.cases);
    process.stdout.write(`[vs-torch] round ${r + 1}: PyTorch done\n`);
    ourRounds.push(await runProject(failures));
    process.stdout.write(`[vs-torch] round ${r + 1}: brainsynth done\n`);
  }
  const results: BenchResult[] = [];
  for (const name of Object.keys(torchRounds[0]!)) {
    const ours = ourRounds.map((c) => c[name]).filter((t): t is Times => t !== undefined);
    if (ours.length === 0) {
      process.stdout.write(`[vs-torch] ${name}: not run on brainsynth (${failures[name] ?? 'no such case'})\n`);
      continue;
    }
    const theirs = torchRounds.map((c) => c[name]!);
    const ourWall = median(ours.map((t) => t.wall_ms));
    const torchWall = median(theirs.map((t) => t.wall_ms));
    const target =
      name === 'guided DDIM step per slice, batch 4' ? { op: '<=' as const, value: 1 } : PRESET === 'desktop' && isTrainCase(name) ? { op: '<=' as const, value: 2 } : undefined;
    results.push({
      case: name,
      value: ourWall / torchWall,
      unit: 'ratio',
      ...(target ? { target } : {}),
      detail: {
        preset: PRESET,
        threads: THREADS,
        backend: isTrainCase(name) ? info.backend : inferenceEngine,
        wasmThreads: info.wasmThreads,
        torch: torchVersion,
        brainsynthWallMs: ourWall,
        pytorchWallMs: torchWall,
        brainsynthCpuMs: median(ours.map((t) => t.cpu_ms)),
        pytorchCpuMs: median(theirs.map((t) => t.cpu_ms)),
        rounds: { brainsynth: ours, pytorch: theirs },
      },
    });
  }
  const notRun = Object.entries(failures).map(([k, v]) => `${k}: ${v}`);
  return {
    description: `brainsynth (${info.backend}, ${THREADS} threads) wall ms / PyTorch ${torchVersion} wall ms, ${PRESET} preset, same cores, ${ROUNDS} alternating rounds of ${REPS} reps${notRun.length ? `; not run: ${notRun.join('; ')}` : ''}`,
    results,
  };
}

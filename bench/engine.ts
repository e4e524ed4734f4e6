/**
 * Engine throughput per backend (issue 4, "Speed"): the backend's own large-matMul GFLOP/s, then
 * forward and train-step (loss, gradients, Adam) time of each desktop-preset network, achieved
 * GFLOP/s and that as a fraction of the matMul peak measured in the same run. Target: wasm UNet
 * train step >= 25% of wasm's matMul GFLOP/s.
 *
 * FLOPs are counted analytically from the shapes of every conv/matMul kernel the forward pass
 * runs (2·MACs); a train step is counted as 3x forward (forward + input grads + weight grads).
 *
 * `npm run bench -- engine` (harness prints and writes bench/results/engine.json), or standalone:
 * `npx tsx bench/engine.ts` does both itself. Env: BENCH_BACKENDS=wasm,cpu  BENCH_NETS=diffusion_unet
 * BENCH_BATCH=4  BENCH_STEPS=5.
 */
import { mkdirSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { BACKEND_ORDER, type BackendName, initEngine } from '../src/ml/engine';
import { createNetwork, presetConfig, type NetworkKind } from '../src/ml/networks';

interface BenchResult {
  case: string;
  value: number;
  unit: string;
  target?: { op: '>=' | '<='; value: number };
  detail?: Record<string, unknown>;
}

const BATCH = Number(process.env.BENCH_BATCH ?? 4);
const STEPS = Number(process.env.BENCH_STEPS ?? 5);
const WARMUP = 2;
const IMAGE: [number, number] = [80, 112];
const LATENT: [number, number] = [20, 28];
const CONTEXT_TOKENS = 4;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timeMs(fn: () => tf.Tensor, reps: number, warmup = WARMUP): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < warmup + reps; i++) {
    const t0 = performance.now();
    const out = fn();
    await out.data(); // webgpu: wait for the queue; cpu/wasm: already done
    const dt = performance.now() - t0;
    out.dispose();
    if (i >= warmup) times.push(dt);
  }
  return times;
}

function size(shape: number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/** 2·MACs of the FLOP-heavy kernels in a profile (other kernels are memory-bound, counted as 0). */
function countFlops(kernels: Array<{ name: string; inputShapes: number[][]; outputShapes: number[][] }>): number {
  let flops = 0;
  for (const k of kernels) {
    const out = k.outputShapes[0];
    if (!out) continue;
    if (k.name === 'Conv2D' || k.name === 'FusedConv2D') {
      const f = k.inputShapes[1];
      flops += 2 * size(out) * f[0] * f[1] * f[2];
    } else if (k.name === 'DepthwiseConv2dNative' || k.name === 'FusedDepthwiseConv2D') {
      const f = k.inputShapes[1];
      flops += 2 * size(out) * f[0] * f[1];
    } else if (k.name === 'BatchMatMul' || k.name === '_FusedMatMul') {
      const a = k.inputShapes[0];
      const m = out[out.length - 2];
      const kDim = size(a) / (size(a.slice(0, -2)) * m);
      flops += 2 * size(out) * kDim;
    }
  }
  return flops;
}

interface NetCase {
  kind: NetworkKind;
  /** Builds inputs, returns the loss function over the network (inputs captured). */
  setup: () => { loss: () => tf.Scalar; forward: () => tf.Tensor; vars: tf.Variable[]; dispose: () => void };
}

function netCase(kind: NetworkKind): NetCase {
  return {
    kind,
    setup: () => {
      const cfg = presetConfig(kind, 'desktop');
      const net = createNetwork(kind, cfg).initialize(1);
      const vars = net.trainableVariables();
      const keep: tf.Tensor[] = [];
      const k = <T extends tf.Tensor>(t: T): T => {
        keep.push(t);
        return t;
      };
      const image = k(tf.randomUniform([BATCH, ...IMAGE, 1], 0, 1, 'float32', 3) as tf.Tensor4D);
      const latent = k(tf.randomNormal([BATCH, ...LATENT, 3], 0, 1, 'float32', 4) as tf.Tensor4D);
      const noise = k(tf.randomNormal([BATCH, ...LATENT, 3], 0, 1, 'float32', 5) as tf.Tensor4D);
      const t = k(tf.tensor1d(Array.from({ length: BATCH }, (_, i) => (i * 137) % 1000), 'int32'));
      const ctxDim = 'cross_attention_dim' in cfg ? (cfg.cross_attention_dim as number) : 1;
      const context = k(tf.randomNormal([BATCH, CONTEXT_TOKENS, ctxDim], 0, 1, 'float32', 6) as tf.Tensor3D);
      let forward: () => tf.Tensor;
      let lossOf: (out: tf.Tensor) => tf.Scalar;
      switch (kind) {
        case 'autoencoderkl': {
          const ae = net as ReturnType<typeof createNetwork<'autoencoderkl'>>;
          forward = () => ae.forward(image).reconstruction;
          lossOf = (rec) => tf.mean(tf.abs(tf.sub(rec, image)));
          break;
        }
        case 'diffusion_unet': {
          const unet = net as ReturnType<typeof createNetwork<'diffusion_unet'>>;
          forward = () => unet.forward(latent, t, context);
          lossOf = (pred) => tf.mean(tf.squaredDifference(pred, noise));
          break;
        }
        case 'controlnet': {
          const cn = net as ReturnType<typeof createNetwork<'controlnet'>>;
          forward = () => {
            const r = cn.forward(latent, t, context, image);
            return tf.addN([...r.down.map((d) => tf.mean(tf.square(d))), tf.mean(tf.square(r.mid))]);
          };
          lossOf = (s) => s as tf.Scalar;
          break;
        }
        case 'patch_discriminator': {
          const d = net as ReturnType<typeof createNetwork<'patch_discriminator'>>;
          forward = () => {
            const outs = d.forward(image, { training: true });
            return outs[outs.length - 1];
          };
          lossOf = (logits) => tf.mean(tf.square(tf.sub(logits, 1)));
          break;
        }
      }
      return {
        forward: () => tf.tidy(forward),
        loss: () => lossOf(forward()),
        vars,
        dispose: () => {
          tf.dispose(keep);
          net.dispose();
        },
      };
    },
  };
}

async function matMulPeak(): Promise<{ gflops: number; ms: number; n: number }> {
  const n = 1024;
  const a = tf.randomNormal([n, n]);
  const b = tf.randomNormal([n, n]);
  const ms = median(await timeMs(() => tf.matMul(a, b), 5));
  tf.dispose([a, b]);
  return { gflops: (2 * n ** 3) / ms / 1e6, ms, n };
}

export default async function engineBench(): Promise<{ description: string; results: BenchResult[] }> {
  const wantedBackends = (process.env.BENCH_BACKENDS?.split(',') ?? [...BACKEND_ORDER]) as BackendName[];
  const nets = (process.env.BENCH_NETS?.split(',') ?? ['diffusion_unet', 'autoencoderkl', 'controlnet', 'patch_discriminator']) as NetworkKind[];
  const results: BenchResult[] = [];
  for (const backend of wantedBackends) {
    try {
      await initEngine({ backend });
    } catch (e) {
      process.stdout.write(`[engine bench] ${backend}: skipped (${e instanceof Error ? e.message : String(e)})\n`);
      continue;
    }
    const peak = await matMulPeak();
    results.push({ case: `${backend} matMul ${peak.n}³`, value: peak.gflops, unit: 'GFLOP/s', detail: { ms: peak.ms } });
    process.stdout.write(`[engine bench] ${backend}: matMul ${peak.gflops.toFixed(2)} GFLOP/s\n`);
    for (const kind of nets) {
      const c = netCase(kind).setup();
      const profile = await tf.profile(() => c.forward());
      const fwdFlops = countFlops(profile.kernels);
      tf.dispose(profile.result as tf.Tensor);
      const fwdMs = median(await timeMs(c.forward, STEPS));
      const opt = tf.train.adam(1e-4);
      const step = (): tf.Tensor =>
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(c.loss, c.vars);
          opt.applyGradients(grads as Parameters<typeof opt.applyGradients>[0]);
          return value;
        });
      const tensorsBefore = tf.memory().numTensors;
      const stepTimes = await timeMs(step, STEPS);
      const stepMs = median(stepTimes);
      const leaked = tf.memory().numTensors - tensorsBefore;
      const trainFlops = 3 * fwdFlops;
      const trainGflops = trainFlops / stepMs / 1e6;
      const detail = { batch: BATCH, forwardGFLOP: fwdFlops / 1e9, forwardMs: fwdMs, stepMs, stepTimesMs: stepTimes, tensorsGrowthAfterWarmup: leaked };
      const label = `${backend} ${kind}`;
      results.push({ case: `${label} forward`, value: fwdMs, unit: 'ms', detail });
      results.push({ case: `${label} train step`, value: stepMs, unit: 'ms', detail });
      results.push({ case: `${label} train GFLOP/s`, value: trainGflops, unit: 'GFLOP/s', detail: { trainGFLOP: trainFlops / 1e9 } });
      results.push({
        case: `${label} train / matMul peak`,
        value: trainGflops / peak.gflops,
        unit: 'fraction',
        ...(backend === 'wasm' && kind === 'diffusion_unet' ? { target: { op: '>=' as const, value: 0.25 } } : {}),
      });
      process.stdout.write(`[engine bench] ${label}: forward ${fwdMs.toFixed(1)} ms, step ${stepMs.toFixed(1)} ms, ${trainGflops.toFixed(2)} GFLOP/s (${((100 * trainGflops) / peak.gflops).toFixed(1)}% of matMul)\n`);
      opt.dispose();
      c.dispose();
    }
  }
  return {
    description: `Engine: matMul peak, desktop-preset forward/train step per backend (batch ${BATCH}, images ${IMAGE.join('x')}, latents ${LATENT.join('x')}, median of ${STEPS} after ${WARMUP} warm-ups)`,
    results,
  };
}

function writeAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  const fd = openSync(tmp, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, path);
}

// Standalone run: print the table and write the same JSON record the harness would.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const started = Date.now();
  const out = await engineBench();
  const results = out.results.map((r) => ({ ...r, pass: r.target ? (r.target.op === '>=' ? r.value >= r.target.value : r.value <= r.target.value) : null }));
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const file = join(root, 'bench', 'results', 'engine.json');
  const record = {
    name: 'engine',
    description: out.description,
    date: new Date().toISOString(),
    durationSeconds: (Date.now() - started) / 1000,
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, loadAverage: loadavg(), node: process.version },
    results,
  };
  writeAtomic(file, JSON.stringify(record, null, 2) + '\n');
  const rows = results.map((r) => [r.case, r.value.toPrecision(4), r.unit, r.target ? `${r.target.op} ${r.target.value}` : '', r.pass === null ? '' : r.pass ? 'ok' : 'BELOW TARGET']);
  const widths = [0, 1, 2, 3, 4].map((i) => Math.max(...rows.map((r) => r[i].length), 5));
  process.stdout.write(rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n') + `\n(written to ${file})\n`);
}

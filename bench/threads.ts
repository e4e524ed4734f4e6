/**
 * Whether the wasm engine's XNNPACK threads pay off for the desktop pipeline's training steps:
 * each stage trainer (real losses, Adam, frozen parents; synthetic 80x112 slices; the desktop's
 * batch) timed in a process with 1 thread and in one with N threads, alternating over rounds so
 * machine load drifts over both alike (the count is fixed per process once wasm starts).
 * value = wall ms per step at N threads / at 1 thread: above 1, the threads cost more (pool
 * hand-offs after each of a step's ~1,500-3,000 small kernels) than they save.
 *
 * `npm run bench -- threads`. Env: BENCH_THREADS (N, default every core), BENCH_ROUNDS=3,
 * BENCH_STEPS=5 (timed steps per stage and process, after one warm-up step).
 */
import { spawnSync } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { initEngine } from '../src/ml/engine';
import type { BenchResult } from './_common';
import { forEachDesktopStage, median, STAGES, syntheticTrainingData, timedEpoch, timeSteps, type Stage } from './_stages';

const THREADS = Number(process.env.BENCH_THREADS ?? availableParallelism());
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const STEPS = Number(process.env.BENCH_STEPS ?? 5);
const MARK = 'THREADS-BENCH ';

type StageTimes = Record<Stage, { wall: number; cpu: number }>;

/** In a child process: the engine on `BRAINSYNTH_WASM_THREADS` threads, every stage timed. */
async function worker(): Promise<void> {
  const info = await initEngine({ backend: 'wasm' });
  const out: Partial<StageTimes> = {};
  await forEachDesktopStage(syntheticTrainingData(), async (stage, config, runtime) => {
    out[stage] = await timeSteps(runtime, config.loop.batchSize, timedEpoch(config), STEPS);
  });
  process.stdout.write(`${MARK}${JSON.stringify({ threads: info.wasmThreads, times: out })}\n`);
}

function measure(threads: number): StageTimes {
  const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, BENCH_THREADS_WORKER: '1', BRAINSYNTH_WASM_THREADS: String(threads) },
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith(MARK));
  if (r.status !== 0 || !line) throw new Error(`threads bench worker (${threads} threads) failed (exit ${r.status ?? r.signal}): ${r.stderr.slice(-2000)}`);
  const got = JSON.parse(line.slice(MARK.length)) as { threads: number; times: StageTimes };
  if (got.threads !== threads) throw new Error(`threads bench worker asked for ${threads} threads and ran ${got.threads}`);
  return got.times;
}

export default async function threadsBench(): Promise<{ description: string; results: BenchResult[] }> {
  const description = `desktop training step wall time, ${THREADS} wasm threads against 1 (alternating processes, ${ROUNDS} rounds of ${STEPS} steps)`;
  if (THREADS < 2) return { description: `${description}: skipped, this machine has one core`, results: [] };
  const rounds: Record<number, StageTimes[]> = { 1: [], [THREADS]: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const t of r % 2 === 0 ? [1, THREADS] : [THREADS, 1]) {
      rounds[t]!.push(measure(t));
      process.stdout.write(`[threads bench] round ${r + 1}, ${t} thread(s): ${STAGES.map((s) => `${s} ${rounds[t]!.at(-1)![s].wall.toFixed(0)} ms`).join(', ')}\n`);
    }
  }
  const results = STAGES.map((stage): BenchResult => {
    const one = median(rounds[1]!.map((x) => x[stage].wall));
    const many = median(rounds[THREADS]!.map((x) => x[stage].wall));
    return {
      case: `desktop ${stage} train step: ${THREADS} threads / 1 thread (wall)`,
      value: many / one,
      unit: 'ratio',
      detail: {
        wallMs: { 1: one, [THREADS]: many },
        cpuMs: { 1: median(rounds[1]!.map((x) => x[stage].cpu)), [THREADS]: median(rounds[THREADS]!.map((x) => x[stage].cpu)) },
        rounds: { 1: rounds[1]!.map((x) => x[stage].wall), [THREADS]: rounds[THREADS]!.map((x) => x[stage].wall) },
        loadAverage: loadavg()[0],
      },
    };
  });
  return { description, results };
}

if (process.env.BENCH_THREADS_WORKER === '1') {
  worker().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}

/**
 * Experiment-store throughput: metric ingestion (target >= 100k points/s), the cost of
 * contract validation on the IPC path, per-point commits for contrast, and the reads the UI
 * makes (downsampled series, run listing with summaries). Runs on a real file in a temp dir.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBackend } from '../src/backend';
import { createDispatch, createHandlers } from '../src/backend/api/handlers';
import type { MetricPoint } from '../src/shared/contract';
import { timeBoth } from './_common';

function points(fromStep: number, count: number, names: string[]): MetricPoint[] {
  const out: MetricPoint[] = [];
  for (let i = 0; out.length < count; i++) {
    for (const name of names) {
      if (out.length === count) break;
      out.push({ step: fromStep + i, epoch: Math.floor((fromStep + i) / 1000), name, value: Math.exp(-(fromStep + i) / 5e4) + Math.random() * 1e-3 });
    }
  }
  return out;
}

function timeIt(fn: () => void): number {
  return timeBoth(fn).wall;
}

const TARGET = { op: '>=' as const, value: 100_000 };

function throughput(label: string, total: number, t: { wall: number; cpu: number }) {
  return [
    { case: `${label} (wall clock)`, value: total / t.wall, unit: 'points/s', target: TARGET, detail: { points: total, seconds: t.wall } },
    { case: `${label} (per CPU second)`, value: total / t.cpu, unit: 'points/s', target: TARGET, detail: { points: total, cpuSeconds: t.cpu } },
  ];
}

export default async function storeBench() {
  const dir = mkdtempSync(join(tmpdir(), 'brainsynth-bench-'));
  const s = openBackend({ home: dir });
  const results = [];
  try {
    const names = ['loss', 'loss_recon', 'loss_kl', 'loss_adv'];

    for (const batch of [1_000, 10_000]) {
      const run = s.runs.create({ stage: 'autoencoder', name: `bench batch ${batch}` });
      const total = 400_000;
      const batches = Array.from({ length: total / batch }, (_, b) => points(b * (batch / names.length), batch, names));
      const t = timeBoth(() => {
        for (const p of batches) s.metrics.append(run.id, p);
      });
      results.push(...throughput(`metrics.append in-process, batches of ${batch}`, total, t));
    }

    {
      const run = s.runs.create({ stage: 'ldm', name: 'bench ipc' });
      const dispatch = createDispatch(createHandlers({ services: s, host: 'cli' }));
      const batch = 5_000;
      const total = 200_000;
      const payloads = Array.from({ length: total / batch }, (_, b) => ({ runId: run.id, points: points(b * (batch / names.length), batch, names) }));
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      for (const p of payloads) {
        const res = await dispatch('metrics.append', p);
        if (!res.ok) throw new Error(res.error.message);
      }
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const c = process.cpuUsage(c0);
      results.push(...throughput(`metrics.append via contract dispatch (zod), batches of ${batch}`, total, { wall, cpu: (c.user + c.system) / 1e6 }));
    }

    {
      const run = s.runs.create({ stage: 'ldm', name: 'bench single' });
      const total = 3_000;
      const seconds = timeIt(() => {
        for (let i = 0; i < total; i++) s.metrics.append(run.id, [{ step: i, name: 'loss', value: 1 / (i + 1) }]);
      });
      results.push({ case: 'metrics.append one point per commit (for contrast)', value: total / seconds, unit: 'points/s', detail: { points: total, seconds } });
    }

    {
      const run = s.runs.create({ stage: 'ldm', name: 'bench long series' });
      const n = 1_000_000;
      for (let b = 0; b < n; b += 10_000) s.metrics.append(run.id, points(b, 10_000, ['loss']));
      let series = 0;
      const seconds = timeIt(() => {
        series = s.metrics.query(run.id, { names: ['loss'], maxPoints: 2_000 })[0]!.steps.length;
      });
      results.push({ case: 'metrics.query 1M-point series -> 2000 (min/max buckets)', value: seconds * 1000, unit: 'ms', target: { op: '<=', value: 2000 }, detail: { returned: series } });
    }

    {
      for (let i = 0; i < 200; i++) {
        const run = s.runs.create({ stage: 'ldm', name: `listing ${i}` });
        s.metrics.append(run.id, points(0, 400, names));
      }
      const seconds = timeIt(() => s.runs.list({ limit: 1000 }));
      results.push({ case: 'runs.list with metric summaries', value: seconds * 1000, unit: 'ms', detail: { runs: s.runs.list({ limit: 1 }).total } });
    }
  } finally {
    s.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return { description: 'experiment store (better-sqlite3, WAL, synchronous=NORMAL) on a temp file', results };
}

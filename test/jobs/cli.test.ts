import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeHome, TINY } from './helpers';

/**
 * The CLI as a user runs it, in separate processes: train, cancel from another process, resume,
 * kill -9 mid-run, resume again — same run, contiguous step numbers, no duplicated metrics.
 */
const BIN = resolve(__dirname, '../../bin/brainsynth.mjs');
let home: string;
let datasetId: number;
let dbPath: string;

beforeAll(() => {
  const h = makeHome({ train: 24, validation: 4 });
  home = h.home;
  datasetId = h.datasetId;
  dbPath = h.services.home.dbPath;
  h.services.close();
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

function cli(args: string[]): ChildProcess & { out: string; err: string; done: Promise<number> } {
  const child = spawn(process.execPath, [BIN, '--home', home, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }) as ChildProcess & {
    out: string;
    err: string;
    done: Promise<number>;
  };
  child.out = '';
  child.err = '';
  child.stdout!.on('data', (d) => (child.out += d));
  child.stderr!.on('data', (d) => (child.err += d));
  child.done = new Promise((r) => child.on('close', (code, signal) => r(code ?? (signal ? 128 : -1))));
  return child;
}

function query<T>(sql: string, ...args: unknown[]): T[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare(sql).all(...args) as T[];
  } finally {
    db.close();
  }
}

const steps = (runId: number) =>
  query<{ step: number }>("SELECT step FROM metrics WHERE run_id = ? AND split = 'train' AND name = 'loss' ORDER BY step", runId).map((r) => r.step);

async function until(cond: () => boolean, ms = 180_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('brainsynth train / cancel / resume', { timeout: 400_000 }, () => {
  it('cancel from another process, resume, kill -9, resume: one run, contiguous steps', async () => {
    const train = cli([
      'train',
      '--stage',
      'autoencoder',
      '--dataset',
      String(datasetId),
      '--epochs',
      '5',
      '--seed',
      '3',
      '--backend',
      'wasm',
      ...[...TINY.common, ...TINY.autoencoder, 'loop.checkpointEvery=2'].flatMap((s) => ['--set', s]),
    ]);
    await until(() => query('SELECT 1 FROM runs').length > 0 && steps(1).length >= 2);
    const cancel = spawnSync(process.execPath, [BIN, '--home', home, 'cancel', '1'], { encoding: 'utf8' });
    expect(cancel.status).toBe(0);
    expect(cancel.stdout).toMatch(/run 1 cancelled/);
    expect(await train.done).toBe(2);
    expect(train.out).toMatch(/^run 1 autoencoder cancelled; \d+ steps in .* on wasm; .*checkpoint step \d+: /m);
    const afterCancel = steps(1);
    expect(afterCancel).toEqual(afterCancel.map((_, i) => i + 1));

    const resumed = cli(['resume', '1']);
    await until(() => steps(1).length >= afterCancel.length + 3);
    resumed.kill('SIGKILL');
    await resumed.done;
    expect(query<{ status: string }>('SELECT status FROM runs WHERE id = 1')[0]!.status).toBe('running');

    const final = cli(['resume', '1']);
    expect(await final.done).toBe(0);
    expect(final.out).toMatch(/^run 1 autoencoder completed; 30 steps in .* on wasm; loss [\d.e-]+ l1_loss [\d.e-]+ d_loss [\d.e-]+; val [\d.e-]+ \(best [\d.e-]+\); checkpoint step 30: .*model\.safetensors$/m);
    expect(steps(1)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const run = query<{ status: string; error: string | null }>('SELECT status, error FROM runs WHERE id = 1')[0]!;
    expect(run).toEqual({ status: 'completed', error: null });
  });

  it('refuses an invalid request with the reason and a non-zero exit', () => {
    const r = spawnSync(process.execPath, [BIN, '--home', home, 'train', '--stage', 'ldm', '--dataset', String(datasetId)], { encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/the ldm stage needs a parent autoencoder run/);
    const u = spawnSync(process.execPath, [BIN, '--home', home, 'train', '--stage', 'autoencoder', '--dataset', '77'], { encoding: 'utf8' });
    expect(u.stderr).toMatch(/unknown dataset 77/);
  });
});

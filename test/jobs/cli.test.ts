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

/** Runs the CLI; `holdAtStep` holds its job before the next step once that many steps are done. */
function cli(args: string[], holdAtStep?: number): ChildProcess & { out: string; err: string; done: Promise<number> } {
  const env = { ...process.env, BRAINSYNTH_TEST_HOLD_AT_STEP: holdAtStep === undefined ? '' : String(holdAtStep) };
  const child = spawn(process.execPath, [BIN, '--home', home, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env }) as ChildProcess & {
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

/**
 * Waits until run 1 has exactly `n` train steps in the store; the child is held there, so the
 * count cannot run past it. Fails early if the child exits, and always says what it saw.
 */
async function untilSteps(n: number, child: ReturnType<typeof cli>, ms = 300_000): Promise<void> {
  const t0 = Date.now();
  let exited: number | null = null;
  void child.done.then((code) => (exited = code));
  const seen = () => {
    try {
      return steps(1);
    } catch (err) {
      return `no store yet (${(err as Error).message})`;
    }
  };
  for (;;) {
    const s = seen();
    if (Array.isArray(s) && s.length === n) return;
    const what = `waiting for run 1 to hold at ${n} train steps; saw ${JSON.stringify(s)}`;
    if (exited !== null) throw new Error(`${what}; the CLI exited with ${exited}:\n${child.out}\n${child.err}`);
    if (Date.now() - t0 > ms) throw new Error(`${what} after ${ms / 1000} s\n${child.out}\n${child.err}`);
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
    ], 2);
    await untilSteps(2, train);
    const cancel = spawnSync(process.execPath, [BIN, '--home', home, 'cancel', '1'], { encoding: 'utf8' });
    expect(cancel.status).toBe(0);
    expect(cancel.stdout).toMatch(/run 1 cancelled/);
    expect(await train.done).toBe(2);
    expect(train.out).toMatch(/^run 1 autoencoder cancelled; \d+ steps in .* on wasm; .*checkpoint step \d+: /m);
    const afterCancel = steps(1);
    expect(afterCancel).toEqual([1, 2]);

    const resumed = cli(['resume', '1'], afterCancel.length + 3);
    await untilSteps(afterCancel.length + 3, resumed);
    resumed.kill('SIGKILL');
    await resumed.done;
    expect(query<{ status: string }>('SELECT status FROM runs WHERE id = 1')[0]!.status).toBe('running');

    const final = cli(['resume', '1']);
    expect(await final.done).toBe(0);
    expect(final.out).toMatch(/^run 1 autoencoder completed; 30 steps in .* on wasm; loss [\d.e-]+ l1_loss [\d.e-]+ d_loss [\d.e-]+; val [\d.e-]+ \(best [\d.e-]+\); stopped by epochs \(budget 20m00s, used \d+m?\d*s\); checkpoint step 30: .*model\.safetensors$/m);
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

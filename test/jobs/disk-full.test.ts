import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmdirSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBackend } from '../../src/backend';
import { BIN, cli, query, until, type CliChild } from './cli-child';
import { addSyntheticDataset, TINY } from './helpers';

/**
 * A full disk and a read-only home, for real: the home lives on a small tmpfs that the test
 * fills while a training job is held at a known step (then lets it go), through the CLI and
 * through `brainsynth serve`. The job fails naming the path and the cause; the process hosting
 * it keeps running; `runs list` works on the read-only home. Mounting needs root on Linux:
 * elsewhere the tests skip, saying so.
 */
let mnt: string | null = null;
let mountProblem = '';
let home = '';
let datasetId = 0;

beforeAll(() => {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    mountProblem = 'needs root on Linux to mount a small tmpfs home';
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'bs-diskfull-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=40m', 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmdirSync(dir);
    mountProblem = `could not mount a tmpfs (${(err as Error).message.split('\n')[0]})`;
    return;
  }
  mnt = dir;
  home = join(mnt, 'home');
  const services = openBackend({ home });
  datasetId = addSyntheticDataset(services, 'synthetic', { train: 12, validation: 4 });
  services.close();
});

afterAll(() => {
  if (!mnt) return;
  execFileSync('umount', [mnt]);
  rmdirSync(mnt);
});

const FILLER = () => join(mnt!, 'filler.bin');

/** Writes a filler file until the tmpfs has no byte left. */
function fillDisk(): void {
  const fd = openSync(FILLER(), 'a');
  try {
    for (const size of [1 << 20, 1 << 12, 1]) {
      const chunk = Buffer.alloc(size, 1);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (err) {
          if ((err as { code?: string }).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

const dbPath = () => join(home, 'brainsynth.db');
const trainSteps = (runId: number) =>
  query<{ step: number }>(dbPath(), "SELECT step FROM metrics WHERE run_id = ? AND split = 'train' AND name = 'loss' ORDER BY step", runId).map((r) => r.step);
const overrides = [...TINY.common, ...TINY.autoencoder, 'loop.maxStepsPerEpoch=3', 'loop.checkpointEvery=2'];

/** Waits until the run has exactly two train steps stored: its job is held there. */
const heldAtTwo = (runId: number, child: CliChild) =>
  until(`run ${runId} to hold at step 2`, child, () => {
    const s = trainSteps(runId);
    return { value: s.length === 2 ? true : undefined, saw: s };
  });

describe('a full disk during training', { timeout: 600_000 }, () => {
  it('fails the CLI job with "disk full at <path>", then the run resumes once there is room', async (ctx) => {
    if (!mnt) return ctx.skip(mountProblem);
    const train = cli(home, ['train', '--stage', 'autoencoder', '--dataset', String(datasetId), '--epochs', '2', '--seed', '3', '--backend', 'wasm', ...overrides.flatMap((s) => ['--set', s])], {
      BRAINSYNTH_TEST_HOLD_AT_STEP: '2',
    });
    await heldAtTwo(1, train);
    fillDisk();
    train.kill('SIGUSR2');
    expect(await train.done).toBe(1);
    expect(train.out).toMatch(/^run 1 autoencoder failed; .*error: .*disk full at \/\S+/m);
    expect(train.err).not.toMatch(/Uncaught|SqliteError:|at .*\.ts:\d+/);

    rmSync(FILLER());
    const list = cli(home, ['runs', 'list']);
    expect(await list.done, list.err).toBe(0);
    process.stdout.write(`after the full disk:\n${train.out}\n${list.out}\n`);
    const resumed = cli(home, ['resume', '1']);
    expect(await resumed.done, resumed.out + resumed.err).toBe(0);
    expect(trainSteps(1)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('fails the served job with "disk full at <path>" and `serve` keeps answering', async (ctx) => {
    if (!mnt) return ctx.skip(mountProblem);
    const child = spawn(process.execPath, [BIN, '--home', home, 'serve', '--api-only', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BRAINSYNTH_HOME: '', BRAINSYNTH_TEST_HOLD_AT_STEP: '2', BRAINSYNTH_TEST_HOLD_AT_CHECKPOINT: '' },
    }) as CliChild;
    child.out = '';
    child.err = '';
    child.stdout!.on('data', (d) => (child.out += d));
    child.stderr!.on('data', (d) => (child.err += d));
    child.done = new Promise((r) => child.on('close', (code, signal) => r(code ?? (signal ? 128 : -1))));
    try {
      const url = new URL(
        await until('serve to listen', child, () => {
          const m = /^brainsynth serve: listening on (\S+)$/m.exec(child.out);
          return { value: m?.[1], saw: child.out };
        }),
      );
      const token = url.searchParams.get('token')!;
      const call = async (channel: string, body: unknown) => {
        const res = await fetch(`${url.origin}/api/invoke/${channel}`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
        return (await res.json()) as { ok: boolean; data?: Record<string, unknown>; error?: { message: string } };
      };
      const started = await call('jobs.start', { stage: 'autoencoder', datasetId, preset: 'desktop', epochs: 2, seed: 4, backend: 'wasm', overrides });
      expect(started.ok, JSON.stringify(started)).toBe(true);
      const runId = started.data!.id as number;
      await heldAtTwo(runId, child);
      fillDisk();
      child.kill('SIGUSR2');
      let job: { state: string; error: string | null } | undefined;
      while (!job || job.state === 'running' || job.state === 'queued') {
        await new Promise((r) => setTimeout(r, 200));
        const all = await call('jobs.all', {});
        job = (all.data!.jobs as { runId: number; kind: string; state: string; error: string | null }[]).find((j) => j.kind === 'train' && j.runId === runId);
        if (child.exitCode !== null) throw new Error(`serve exited: ${child.err}`);
      }
      expect(job.state).toBe('failed');
      expect(job.error).toMatch(/disk full at \/\S+/);
      // The host is still there, and reads still work on the full disk.
      const runs = await call('runs.list', {});
      expect(runs.ok, JSON.stringify(runs)).toBe(true);
      expect(child.exitCode).toBeNull();
    } finally {
      child.kill('SIGTERM');
      await child.done;
      rmSync(FILLER(), { force: true });
    }
  });

  it('lists runs on a read-only home, and a write names the path and the cause', async (ctx) => {
    if (!mnt) return ctx.skip(mountProblem);
    const emptyHome = join(mnt, 'empty-home');
    for (const sub of ['runs', 'datasets']) mkdirSync(join(emptyHome, sub), { recursive: true });
    execFileSync('mount', ['-o', 'remount,ro', mnt]);
    try {
      const none = cli(emptyHome, ['runs', 'list']);
      expect(await none.done).not.toBe(0);
      expect(none.err).toMatch(/read-only file system at \/\S+: cannot create the database \/\S+brainsynth\.db/);
      const list = cli(home, ['runs', 'list']);
      expect(await list.done, list.err).toBe(0);
      expect(list.out).toMatch(/autoencoder/);
      const train = cli(home, ['train', '--stage', 'autoencoder', '--dataset', String(datasetId), ...overrides.flatMap((s) => ['--set', s])]);
      expect(await train.done).not.toBe(0);
      expect(train.err).toMatch(/read-only (database|file system) at \/\S+/);
    } finally {
      execFileSync('mount', ['-o', 'remount,rw', mnt]);
    }
  });
});

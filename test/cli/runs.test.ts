import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBackend } from '../../src/backend';
import { tempHome } from '../store/helpers';

const run = promisify(execFile);
const bin = resolve(__dirname, '../../bin/brainsynth.mjs');
let home: ReturnType<typeof tempHome>;
let ids: { ae: number; ldm: number; evaluation: number };

async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { env: { ...process.env, BRAINSYNTH_HOME: '', ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(() => {
  home = tempHome();
  const s = openBackend({ home: home.dir });
  const ae = s.runs.create({ stage: 'autoencoder', name: 'ae-base', config: { lr: 5e-5, epochs: 3 }, seed: 42, backend: 'tensorflow' });
  s.runs.update({ id: ae.id, status: 'running' });
  s.metrics.append(ae.id, [
    { step: 0, name: 'loss', value: 0.5 },
    { step: 10, name: 'loss', value: 0.1 },
    { step: 10, name: 'psnr', value: 27.5, split: 'validation' },
    // The autoencoder logs a weighted total for training but only its parts for validation.
    { step: 10, name: 'l1_loss', value: 0.05 },
    { step: 10, name: 'kl_loss', value: 4587 },
    { step: 10, name: 'l1_loss', value: 0.04, split: 'validation' },
    { step: 10, name: 'kl_loss', value: 4600, split: 'validation' },
  ]);
  s.checkpoints.add(ae.id, { path: 'runs/1/last.safetensors', step: 10, sha256: 'ab'.repeat(32) });
  s.runs.update({ id: ae.id, status: 'completed' });
  // An evaluation stores one point per image; its last row (a baseline's MAE) is not what a reader compares.
  const evaluation = s.runs.create({ stage: 'evaluation', name: 'eval-test' });
  s.metrics.append(evaluation.id, [
    { step: 0, split: 'test', name: 'psnr', value: 20 },
    { step: 1, split: 'test', name: 'psnr', value: 30 },
    { step: 0, split: 'test', name: 'ms_ssim', value: 0.8 },
    { step: 1, split: 'test', name: 'ms_ssim', value: 0.9 },
    { step: 1, split: 'test', name: 'baseline_identity_mae', value: 0.3 },
  ]);
  const ldm = s.runs.create({ stage: 'ldm', parents: [{ runId: ae.id, role: 'autoencoder' }] });
  ids = { ae: ae.id, ldm: ldm.id, evaluation: evaluation.id };
  s.close();
});
afterAll(() => home.cleanup());

describe('brainsynth runs', () => {
  it('runs list prints a table, newest first, from --home', async () => {
    const { code, stdout } = await cli(['--home', home.dir, 'runs', 'list']);
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+STAGE\s+STATUS\s+NAME\s+DATASET\s+CREATED \(UTC\)\s+DURATION\s+KEY METRICS$/);
    expect(lines[2]).toMatch(new RegExp(`^\\s*${ids.ldm}\\s+ldm\\s+created`));
    expect(lines[3]).toMatch(new RegExp(`^\\s*${ids.evaluation}\\s+evaluation\\s+created\\s+eval-test`));
    expect(lines[3]).toContain('PSNR=25 dB MS-SSIM=0.85');
    expect(lines[3]).not.toContain('mae');
    expect(lines[4]).toMatch(new RegExp(`^\\s*${ids.ae}\\s+autoencoder\\s+completed\\s+ae-base`));
    // The same named quantity for train and validation (not a weighted total beside kl_loss).
    expect(lines[4]).toContain('train l1_loss=0.05 best val l1_loss=0.04');
  });

  it('runs list --json prints the contract shape and honours BRAINSYNTH_HOME', async () => {
    const { code, stdout } = await cli(['runs', 'list', '--json', '--stage', 'autoencoder'], { BRAINSYNTH_HOME: home.dir });
    expect(code).toBe(0);
    const runs = JSON.parse(stdout);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ id: ids.ae, stage: 'autoencoder', status: 'completed', seed: 42, config: { lr: 5e-5, epochs: 3 } });
    expect(runs[0].metrics.find((m: { name: string }) => m.name === 'loss')).toMatchObject({ last: { step: 10, value: 0.1 }, best: { value: 0.1 } });
  });

  it('runs show prints config, parents, metric summary and checkpoints', async () => {
    const { code, stdout } = await cli(['--home', home.dir, 'runs', 'show', String(ids.ae)]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^run \d+ "ae-base": autoencoder, completed/);
    expect(stdout).toContain('"lr": 0.00005');
    expect(stdout).toMatch(/loss\s+train\s+2\s+0\.1\s+10\s+0\.1\s+10\s+min/);
    expect(stdout).toMatch(/psnr\s+validation\s+1\s+27\.5/);
    expect(stdout).toContain('runs/1/last.safetensors');
    const child = await cli(['--home', home.dir, 'runs', 'show', String(ids.ldm), '--json']);
    expect(JSON.parse(child.stdout).run.parents).toEqual([{ runId: ids.ae, role: 'autoencoder' }]);
  });

  it('runs show of a missing or malformed id fails with a clear message', async () => {
    const missing = await cli(['--home', home.dir, 'runs', 'show', '999']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('run 999 does not exist');
    const bad = await cli(['--home', home.dir, 'runs', 'show', 'abc']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("run id must be a positive integer, got 'abc'");
  });

  it('runs annotate sets notes, adds and removes tags; runs show prints them', async () => {
    const first = await cli(['--home', home.dir, 'runs', 'annotate', String(ids.ldm), '--note', 'first try\nkl weight too high', '--tag', 'Baseline, sweep ,baseline']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('tags       Baseline, sweep');
    const second = await cli(['--home', home.dir, 'runs', 'annotate', String(ids.ldm), '--tag', 'paper', '--untag', 'SWEEP', '--json']);
    expect(second.code).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({ id: ids.ldm, notes: 'first try\nkl weight too high', tags: ['Baseline', 'paper'] });
    const shown = await cli(['--home', home.dir, 'runs', 'show', String(ids.ldm)]);
    expect(shown.stdout).toMatch(/^ {2}tags {7}Baseline, paper$/m);
    expect(shown.stdout).toContain('notes:\n  first try\n  kl weight too high');
    const cleared = await cli(['--home', home.dir, 'runs', 'annotate', String(ids.ldm), '--note', '', '--json']);
    expect(JSON.parse(cleared.stdout)).toMatchObject({ notes: '', tags: ['Baseline', 'paper'] });
  });

  it('runs annotate refuses nothing to do, too long tags and missing runs with clear messages', async () => {
    const nothing = await cli(['--home', home.dir, 'runs', 'annotate', String(ids.ae)]);
    expect(nothing.code).not.toBe(0);
    expect(nothing.stderr).toContain('give --note, --tag or --untag');
    const long = await cli(['--home', home.dir, 'runs', 'annotate', String(ids.ae), '--tag', 'x'.repeat(41)]);
    expect(long.code).not.toBe(0);
    expect(long.stderr).toContain(`run ${ids.ae}: tag '${'x'.repeat(40)}…' is longer than 40 characters`);
    const missing = await cli(['--home', home.dir, 'runs', 'annotate', '999', '--tag', 'a']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('run 999 does not exist');
  });

  it('an empty home tells the newcomer what to do', async () => {
    const empty = tempHome();
    try {
      const { stdout } = await cli(['--home', empty.dir, 'runs', 'list']);
      expect(stdout).toMatch(/No runs yet/);
    } finally {
      empty.cleanup();
    }
  });
});

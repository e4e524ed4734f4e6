import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openBackend } from '../../src/backend';
import { leftoverPid, sweepStaleTemp } from '../../src/backend/stale-temp';
import { tempDir } from './helpers';

const tmp = tempDir('bs-sweep-');
afterAll(() => tmp.cleanup());

/** The pid of a process that has certainly exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('leftovers of killed imports, downloads and prepares', () => {
  it('recognises our temporary names and nothing else', () => {
    expect(leftoverPid('.staging-phantom-4242-1733300000000')).toBe(4242);
    expect(leftoverPid('.staging-open-ms-77-1733300000000')).toBe(77);
    expect(leftoverPid('.prepared.123.1733300000000.tmp')).toBe(123);
    expect(leftoverPid('.download-manifest.json.9.1733300000000.tmp')).toBe(9);
    expect(leftoverPid('prepared.old-55')).toBe(55);
    for (const name of ['1', 'prepared', 'brainsynth.db', 'sub-01.nii.gz.part', 'downloads', '.staging-phantom']) expect(leftoverPid(name), name).toBeUndefined();
  });

  it('are swept when the home is opened; a live process keeps its own', () => {
    const root = join(tmp.dir, 'home');
    const dead = deadPid();
    const datasets = join(root, 'datasets');
    const leftovers = [
      join(datasets, `.staging-phantom-${dead}-1733300000000`),
      join(datasets, `.staging-open-ms-${dead}-1733300000001`),
      join(datasets, '3', `.prepared.${dead}.1733300000002.tmp`),
      join(datasets, '3', `prepared.old-${dead}`),
    ];
    for (const dir of leftovers) mkdirSync(join(dir, 'sub-01'), { recursive: true });
    mkdirSync(join(root, 'downloads', 'open-ms'), { recursive: true });
    writeFileSync(join(root, 'downloads', 'open-ms', `.download-manifest.json.${dead}.1.tmp`), 'x');
    const live = join(datasets, `.staging-phantom-${process.pid}-1733300000003`);
    mkdirSync(live);
    mkdirSync(join(datasets, '3', 'prepared'));
    const services = openBackend({ home: root });
    services.close();
    for (const dir of leftovers) expect(existsSync(dir), dir).toBe(false);
    expect(readdirSync(join(root, 'downloads', 'open-ms'))).toEqual([]);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(join(datasets, '3', 'prepared'))).toBe(true);
  });

  it('atomic-write leftovers of killed runs under runs/ are swept; a live run keeps its own', () => {
    const root = join(tmp.dir, 'runs-home');
    const dead = deadPid();
    const run = join(root, 'runs', '4');
    const step = join(run, 'checkpoints', 'step-00000008');
    const generated = join(run, 'generated', 'job-1');
    for (const dir of [step, generated, join(run, 'translations')]) mkdirSync(dir, { recursive: true });
    const leftovers = [
      join(run, `.job.json.${dead}.1733300000000.tmp`),
      join(run, 'checkpoints', `.last.json.${dead}.1733300000001.tmp`),
      join(step, `.model.safetensors.${dead}.1733300000002.tmp`),
      join(generated, `.flair.png.${dead}.1733300000003.tmp`),
      join(run, 'translations', `.sub-01_T1w_synth.nii.gz.${dead}.1733300000004.tmp`),
    ];
    for (const f of leftovers) writeFileSync(f, 'x');
    const live = join(step, `.state.safetensors.${process.pid}.1733300000005.tmp`);
    const kept = [live, join(step, 'model.safetensors'), join(run, 'checkpoints', 'last.json'), join(run, 'job.json')];
    for (const f of kept) writeFileSync(f, 'x');
    const services = openBackend({ home: root });
    services.close();
    for (const f of leftovers) expect(existsSync(f), f).toBe(false);
    for (const f of kept) expect(existsSync(f), f).toBe(true);
  });

  it('never throws: a missing folder is skipped', () => {
    expect(sweepStaleTemp([join(tmp.dir, 'nope')], () => false)).toEqual([]);
  });
});

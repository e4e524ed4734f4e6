import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { hasOpenMs, openMsDir, tempDir, valid2mmPair, writeSubject } from './helpers';
import { startOpenMsServer } from './open-ms-server';

const run = promisify(execFile);
const bin = resolve(__dirname, '../../bin/brainsynth.mjs');
const tmp = tempDir('bs-cli-');
afterAll(() => tmp.cleanup());
const home = join(tmp.dir, 'home');

/** Runs the CLI asynchronously (the local HTTP server lives in this process). */
async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [bin, '--home', home, ...args], { env: { ...process.env, BRAINSYNTH_HOME: '' }, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('brainsynth data (CLI)', () => {
  it('creates a 5-subject SYNTHETIC PHANTOM dataset and prepares it', async () => {
    const r = await cli('data', 'phantom', '--subjects', '5', '--name', 'phantom5', '--seed', '1');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/dataset 1 "phantom5": 5 subjects, 15 volumes, grid fsl-mni152-1mm/);
    expect(r.stdout).toMatch(/SYNTHETIC PHANTOM/);
    const p = await cli('data', 'prepare', '--dataset', 'phantom5', '--slices', '80:100', '--split', '0.6,0.2,0.2', '--seed', '2', '--json');
    expect(p.code).toBe(0);
    const out = JSON.parse(p.stdout);
    expect(out.dataset.prepared.slices).toBe('80:100');
    expect(Object.values(out.dataset.prepared.subjects)).toEqual([3, 1, 1]);
    expect(out.counts).toEqual({ train: 60, validation: 20, test: 20 });
  });

  it.skipIf(!hasOpenMs)('imports ../shared open-ms-mni, prepares with patient19 as test, exports PNG/TSV and lists', async () => {
    const r = await cli('data', 'import', openMsDir, '--name', 'open-ms-3', '--attribution', 'Lesjak et al. 2017, CC BY');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/note: 9 of 9 volumes: header does not say MNI/);
    const p = await cli('data', 'prepare', '--dataset', 'open-ms-3', '--slices', 'reference', '--test-subjects', 'patient19');
    expect(p.code).toBe(0);
    expect(p.stdout).toMatch(/sub-patient19\ttest\t5 slices/);
    const out = join(tmp.dir, 'png');
    const e = await cli('data', 'export-png', '--dataset', 'open-ms-3', '--out', out);
    expect(e.code).toBe(0);
    expect(e.stdout).toMatch(/wrote 30 PNGs/);
    expect(readFileSync(join(out, 'test.tsv'), 'utf8').split('\n')[1]).toBe(
      `${join(out, 'sub-patient19', 'sub-patient19_slice-0_T1w.png')}\t${join(out, 'sub-patient19', 'sub-patient19_slice-0_FLAIR.png')}`,
    );
    const l = await cli('data', 'list', '--json');
    const list = JSON.parse(l.stdout) as { name: string; synthetic: boolean; prepared: unknown }[];
    expect(list.map((d) => [d.name, d.synthetic])).toEqual([
      ['phantom5', true],
      ['open-ms-3', false],
    ]);
    const s = await cli('data', 'show', '--dataset', 'open-ms-3');
    expect(s.stdout).toMatch(/attribution: Lesjak et al\. 2017, CC BY/);
  });

  it.skipIf(!hasOpenMs)('fetch open-ms downloads from --base-url (with a dropped connection) and imports', async () => {
    const server = await startOpenMsServer();
    try {
      server.cutOnce.set('patient26/T1_N4_noneck_reduced_winsor_regtoFLAIR_brain_N4_regtoMNI.nii.gz', 1_000_000);
      const r = await cli('data', 'fetch', 'open-ms', '--base-url', server.baseUrl, '--subjects', 'patient26', '--name', 'open-ms-dl');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/"open-ms-dl": 1 subjects, 3 volumes/);
      expect(r.stdout).toMatch(/attribution: .*Lesjak/);
      expect(r.stderr).toMatch(/sub-patient26_T1w\.nii\.gz: \d+ bytes sha256 [0-9a-f]{64} \(resumed\)/);
      expect(server.log.some((l) => l.status === 206)).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('refuses bad input with exit code 1 and names the file', async () => {
    const root = join(tmp.dir, 'bad');
    writeSubject(root, 'x', { flair: gzipSync(Buffer.from('not an image'.repeat(50))), t1w: valid2mmPair().t1w });
    const before = await cli('data', 'list', '--json');
    const r = await cli('data', 'import', root, '--name', 'bad');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/import of dataset "bad" refused, nothing was stored/);
    expect(r.stderr).toMatch(/sub-x\/anat\/sub-x_FLAIR\.nii\.gz: not a NIfTI file/);
    const after = await cli('data', 'list', '--json');
    expect(after.stdout).toBe(before.stdout);
    expect(readdirSync(join(home, 'datasets')).filter((n) => n.startsWith('.'))).toEqual([]);
    const p = await cli('data', 'prepare', '--dataset', 'nope');
    expect(p.code).toBe(1);
    expect(p.stderr).toMatch(/dataset "nope" not found/);
  });

  it('refuses the dataset names the API refuses (newline, 100k characters) and file:// downloads', async () => {
    const root = join(tmp.dir, 'names');
    writeSubject(root, 'a', { flair: valid2mmPair().flair, t1w: valid2mmPair().t1w });
    const newline = await cli('data', 'import', root, '--name', 'two\nlines');
    expect(newline.code).toBe(1);
    expect(newline.stderr).toMatch(/dataset name contains a control character/);
    const long = await cli('data', 'phantom', '--subjects', '1', '--name', 'x'.repeat(100_000));
    expect(long.code).toBe(1);
    expect(long.stderr).toMatch(/dataset name too long \(100000 characters; at most 200\)/);
    const file = await cli('data', 'fetch', 'open-ms', '--base-url', 'file:///etc', '--subjects', 'patient07');
    expect(file.code).toBe(1);
    expect(file.stderr).toMatch(/--base-url file:\/\/\/etc: only http:\/\/ and https:\/\/ addresses are fetched/);
  });
});

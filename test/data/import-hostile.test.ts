/**
 * Import under hostile or unlucky input: header bombs, pipes, symlinks, copies of one scan under
 * two subjects, names the API refuses, and two imports racing for one name.
 */
import { execFile, execFileSync } from 'node:child_process';
import { realpathSync, rmSync, symlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { createPhantomDataset, DatasetImportError, getDatasetDetail, importDataset, prepareDataset } from '../../src/backend/data/datasets';
import { openStore } from '../../src/backend/store';
import { buildNifti, datasetRowCounts, FSL_1MM_AFFINE, tempHome, valid2mmPair, writeFile, writeSubject } from './helpers';

const env = tempHome();
afterAll(() => env.cleanup());

describe('import refuses hostile files without reading or waiting on them', () => {
  it('refuses a uint8 header bomb for its grid without inflating it (peak memory stays low)', { timeout: 120_000 }, async () => {
    // 480^3 uint8 of zeros: a 110 MB payload in a small .nii.gz that would decode to 424 MiB of float32.
    const root = join(env.dir, 'bomb');
    const header = buildNifti({ dims: [480, 480, 480], datatype: 2, values: [], sform: FSL_1MM_AFFINE, sformCode: 4 });
    const bytes = gzipSync(Buffer.concat([header, Buffer.alloc(480 ** 3)]), { level: 1 });
    writeSubject(root, 'a', { flair: bytes, t1w: valid2mmPair().t1w });
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', resolve('test/data/import-memory-child.ts'), join(env.dir, 'bomb-home'), root]);
    const result = JSON.parse(stdout) as { problems: string[]; maxRssMiB: number };
    expect(result.problems.join('\n')).toMatch(/sub-a\/anat\/sub-a_FLAIR\.nii\.gz: grid 480x480x480 .* is not a recognised MNI grid/);
    // Inflating alone would add 110 MB and decoding 424 MiB more on top of the process's baseline.
    expect(result.maxRssMiB, `peak ${result.maxRssMiB.toFixed(0)} MiB`).toBeLessThan(300);
  });

  it('refuses a named pipe called *_FLAIR.nii.gz instead of hanging', { timeout: 30_000 }, async () => {
    const root = join(env.dir, 'fifo');
    writeSubject(root, 'a', { t1w: valid2mmPair().t1w });
    execFileSync('mkfifo', [join(root, 'sub-a', 'anat', 'sub-a_FLAIR.nii.gz')]);
    const before = datasetRowCounts(env.store);
    const err = await importDataset(env.store, { name: 'fifo', dir: root }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetImportError);
    expect((err as DatasetImportError).problems).toContain('sub-a/anat/sub-a_FLAIR.nii.gz: not a regular file (a named pipe); only ordinary files are read');
    expect(datasetRowCounts(env.store)).toEqual(before);
  });
});

describe('prepare after import', () => {
  it('refuses an imported volume that was replaced by a named pipe instead of hanging', { timeout: 60_000 }, async () => {
    const d = await createPhantomDataset(env.store, env.home, { name: 'ph-pipe', subjects: 1 });
    const flair = getDatasetDetail(env.store.db, d.id).subjects[0]!.volumes.find((v) => v.modality === 'FLAIR')!;
    rmSync(flair.path);
    execFileSync('mkfifo', [flair.path]);
    await expect(prepareDataset(env.store, env.home, d.id, { slices: 'reference' })).rejects.toThrow(`${flair.path}: imported volume was replaced by a named pipe; import it again`);
  });
});

describe('import records what it really read', () => {
  it('stores a symlinked volume by its target, not by the link', async () => {
    const targets = join(env.dir, 'targets');
    const flair = writeFile(join(targets, 'flair.nii.gz'), valid2mmPair().flair);
    const root = join(env.dir, 'links');
    writeSubject(root, 'a', { t1w: valid2mmPair().t1w });
    symlinkSync(flair, join(root, 'sub-a', 'anat', 'sub-a_FLAIR.nii.gz'));
    await importDataset(env.store, { name: 'links', dir: root });
    const volumes = getDatasetDetail(env.store.db, 'links').subjects[0]!.volumes;
    expect(volumes.find((v) => v.modality === 'FLAIR')!.path).toBe(realpathSync(flair));
  });

  it('warns when one scan is imported under two subjects', async () => {
    const root = join(env.dir, 'copies');
    const pair = valid2mmPair();
    writeSubject(root, 'a', { flair: pair.flair, t1w: pair.t1w });
    writeSubject(root, 'b', { flair: pair.flair, t1w: pair.t1w });
    const d = await importDataset(env.store, { name: 'copies', dir: root });
    expect(d.warnings).toContain('byte-identical images: sub-a/anat/sub-a_FLAIR.nii.gz, sub-b/anat/sub-b_FLAIR.nii.gz (the same scan under 2 names can land in both train and test)');
    expect(d.warnings).toContain('byte-identical images: sub-a/anat/sub-a_T1w.nii.gz, sub-b/anat/sub-b_T1w.nii.gz (the same scan under 2 names can land in both train and test)');
  });
});

describe('dataset names', () => {
  const root = join(env.dir, 'names');
  writeSubject(root, 'a', { flair: valid2mmPair().flair, t1w: valid2mmPair().t1w });

  it.each([
    ['a newline', 'two\nlines', /control character/],
    ['100k characters', 'x'.repeat(100_000), /too long \(100000 characters; at most 200\)/],
    ['only spaces', '   ', /needs a name/],
  ])('refuses %s as the API does', async (_label, name, pattern) => {
    await expect(importDataset(env.store, { name, dir: root })).rejects.toThrow(pattern);
  });

  it('two simultaneous imports with one name: one wins, the other gets the usual message', { timeout: 60_000 }, async () => {
    // A second connection stands in for a second process: both pass the name check, then race.
    const other = openStore(env.home.dbPath);
    try {
      const results = await Promise.allSettled([
        importDataset(env.store, { name: 'same', dir: root }),
        importDataset(other, { name: 'same', dir: root }),
      ]);
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(failed).toHaveLength(1);
      expect(String(failed[0]!.reason.message)).toBe('a dataset named "same" already exists; choose another --name');
    } finally {
      other.close();
    }
  });
});

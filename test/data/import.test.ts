import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPhantomDataset, DatasetImportError, getDatasetDetail, importDataset, listDatasets } from '../../src/backend/data/datasets';
import { buildNifti, blobVolume, datasetRowCounts, FSL_1MM_AFFINE, FSL_2MM_AFFINE, gzNifti, tempHome, valid2mmPair, writeSubject, writeFile } from './helpers';

/**
 * The bad-input corpus: each case is a BIDS folder with one valid subject (FSL 2 mm grid, fast
 * to write) next to one bad file. Each import must fail naming the file and the problem, and
 * leave the store exactly as it was.
 */
const env = tempHome();
afterAll(() => env.cleanup());

const dims2mm: [number, number, number] = [91, 109, 91];

function corpusCase(name: string, bad: (root: string) => void): string {
  const root = join(env.dir, 'corpus', name);
  mkdirSync(root, { recursive: true });
  const good = valid2mmPair();
  writeSubject(root, 'good', { flair: good.flair, t1w: good.t1w });
  bad(root);
  return root;
}

describe('import refuses bad input, naming the file, and stores nothing', () => {
  let before: ReturnType<typeof datasetRowCounts>;
  beforeAll(async () => {
    // One dataset already in the store: failures must leave it untouched too.
    const root = join(env.dir, 'corpus', 'existing');
    const good = valid2mmPair();
    writeSubject(root, 'a', { flair: good.flair, t1w: good.t1w });
    await importDataset(env.store, { name: 'existing', dir: root });
    before = datasetRowCounts(env.store);
  });

  const good = () => valid2mmPair();
  const cases: [string, (root: string) => void, RegExp][] = [
    [
      'truncated gzip',
      (r) => writeSubject(r, 'bad', { flair: good().flair.subarray(0, 3000), t1w: good().t1w }),
      /sub-bad\/anat\/sub-bad_FLAIR\.nii\.gz: truncated gzip stream/,
    ],
    [
      'corrupt gzip',
      (r) => {
        const b = Buffer.from(good().t1w);
        b.fill(0xab, 200, 600);
        writeSubject(r, 'bad', { flair: good().flair, t1w: b });
      },
      /sub-bad\/anat\/sub-bad_T1w\.nii\.gz: (corrupt gzip data|truncated|cannot read header)/,
    ],
    ['not NIfTI', (r) => writeSubject(r, 'bad', { flair: gzipSync(Buffer.from('<html>not found</html>'.repeat(40))), t1w: good().t1w }), /sub-bad_FLAIR\.nii\.gz: not a NIfTI file/],
    [
      '4D',
      (r) => writeSubject(r, 'bad', { flair: gzNifti([91, 109, 91, 2], FSL_2MM_AFFINE, new Float32Array(91 * 109 * 91 * 2).fill(1)), t1w: good().t1w }),
      /sub-bad_FLAIR\.nii\.gz: 4D data \(91x109x91x2\)/,
    ],
    [
      'not an MNI grid',
      (r) => {
        const v = gzNifti([64, 64, 40], FSL_2MM_AFFINE, blobVolume([64, 64, 40]));
        writeSubject(r, 'bad', { flair: v, t1w: v });
      },
      /sub-bad_FLAIR\.nii\.gz: grid 64x64x40 .* is not a recognised MNI grid/,
    ],
    [
      'FLAIR and T1w on different grids',
      (r) => writeSubject(r, 'bad', { flair: good().flair, t1w: gzNifti([182, 218, 182], FSL_1MM_AFFINE, blobVolume([182, 218, 182])) }),
      /sub-bad_T1w\.nii\.gz: grid 182x218x182 .* does not match its FLAIR sub-bad_FLAIR\.nii\.gz 91x109x91/,
    ],
    [
      'NaN voxels',
      (r) => {
        const v = blobVolume(dims2mm);
        v[1000] = NaN;
        v[2000] = NaN;
        writeSubject(r, 'bad', { flair: good().flair, t1w: gzNifti(dims2mm, FSL_2MM_AFFINE, v) });
      },
      /sub-bad_T1w\.nii\.gz: 2 NaN voxel\(s\)/,
    ],
    ['empty volume', (r) => writeSubject(r, 'bad', { flair: gzNifti(dims2mm, FSL_2MM_AFFINE, new Float32Array(91 * 109 * 91)), t1w: good().t1w }), /sub-bad_FLAIR\.nii\.gz: empty volume/],
    [
      'huge file (header claims huge dims)',
      (r) => writeSubject(r, 'bad', { flair: gzipSync(buildNifti({ dims: [2048, 2048, 2048], datatype: 64, values: [] })), t1w: good().t1w }),
      /sub-bad_FLAIR\.nii\.gz: too large: header claims 2048x2048x2048 float64 = 65536 MiB/,
    ],
    ['FLAIR without T1w', (r) => writeSubject(r, 'bad', { flair: good().flair }), /sub-bad\/anat\/sub-bad_FLAIR\.nii\.gz: FLAIR without a \*_T1w/],
    [
      'subjects on different MNI grids',
      (r) => {
        const v = blobVolume([182, 218, 182]);
        writeSubject(r, 'one-mm', { flair: gzNifti([182, 218, 182], FSL_1MM_AFFINE, v), t1w: gzNifti([182, 218, 182], FSL_1MM_AFFINE, v) });
      },
      /subjects are on different MNI grids \(fsl-mni152-2mm in sub-good.*fsl-mni152-1mm in sub-one-mm/,
    ],
    ['empty folder', () => undefined, /no subjects found/],
  ];

  it.each(cases)('%s', async (name, bad, pattern) => {
    const root =
      name === 'empty folder'
        ? (() => {
            const d = join(env.dir, 'corpus', 'empty');
            mkdirSync(d, { recursive: true });
            return d;
          })()
        : corpusCase(name.replace(/\W+/g, '-'), bad);
    const err = await importDataset(env.store, { name: `bad-${name}`, dir: root }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetImportError);
    expect((err as Error).message).toMatch(/nothing was stored/);
    expect((err as Error).message).toMatch(pattern);
    expect(datasetRowCounts(env.store)).toEqual(before);
    expect(listDatasets(env.store.db).map((d) => d.name)).toEqual(['existing']);
  });

  it('reports every bad file at once', async () => {
    const root = join(env.dir, 'corpus', 'several');
    writeSubject(root, 'x', { flair: gzipSync(Buffer.from('nope'.repeat(200))), t1w: valid2mmPair().t1w });
    writeSubject(root, 'y', { flair: valid2mmPair().flair, t1w: valid2mmPair().t1w.subarray(0, 500) });
    const err = (await importDataset(env.store, { name: 'several', dir: root }).catch((e: unknown) => e)) as DatasetImportError;
    expect(err.problems.some((p) => p.startsWith('sub-x/anat/sub-x_FLAIR.nii.gz'))).toBe(true);
    expect(err.problems.some((p) => p.startsWith('sub-y/anat/sub-y_T1w.nii.gz'))).toBe(true);
    expect(datasetRowCounts(env.store)).toEqual(before);
  });

  it('refuses a duplicate dataset name', async () => {
    const root = corpusCase('dup', () => undefined);
    await expect(importDataset(env.store, { name: 'existing', dir: root })).rejects.toThrow(/a dataset named "existing" already exists/);
  });

  it('rolls back rows when the transaction fails at its last step (adopting the phantom folder)', async () => {
    const nextId = (env.store.db.prepare('SELECT COALESCE(MAX(id), 0) + 1 AS n FROM datasets').get() as { n: number }).n;
    mkdirSync(env.home.datasetDir(nextId), { recursive: true }); // occupied target folder
    const err = await createPhantomDataset(env.store, env.home, { name: 'phantom-blocked', subjects: 1 }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/already exists; refusing to overwrite it/);
    expect(datasetRowCounts(env.store)).toEqual(before);
    expect(readdirSync(env.home.datasetsDir).filter((n) => n.startsWith('.staging'))).toEqual([]);
  });
});

describe('import of valid data', () => {
  it('accepts a RAS-stored T1w on the FLAIR grid and an explicit list of pairs, noting the orientation', async () => {
    const root = join(env.dir, 'pairs');
    const flair = blobVolume(dims2mm);
    // Same grid, stored RAS: voxel i of RAS = voxel 90 - i of LAS.
    const ras = new Float32Array(flair.length);
    for (let k = 0; k < 91; k++) for (let j = 0; j < 109; j++) for (let i = 0; i < 91; i++) ras[i + 91 * (j + 109 * k)] = flair[90 - i + 91 * (j + 109 * k)]!;
    const rasAffine = [
      [2, 0, 0, -90],
      [0, 2, 0, -126],
      [0, 0, 2, -72],
      [0, 0, 0, 1],
    ];
    const f = writeFile(join(root, 'flair.nii.gz'), gzNifti(dims2mm, FSL_2MM_AFFINE, flair));
    const t = writeFile(join(root, 't1.nii.gz'), gzNifti(dims2mm, rasAffine, ras));
    const d = await importDataset(env.store, { name: 'pairs', pairs: [{ subject: 'sub-01', session: 'ses-a', flair: f, t1w: t }] });
    expect(d.grid).toBe('fsl-mni152-2mm');
    expect(d.warnings.join('\n')).toMatch(/1 of 2 volumes: stored RAS: slices are taken after exact reorientation to LAS/);
    const detail = getDatasetDetail(env.store.db, 'pairs');
    expect(detail.subjects[0]!.session).toBe('ses-a');
    const t1 = detail.subjects[0]!.volumes.find((v) => v.modality === 'T1w')!;
    expect(t1.orientation).toBe('RAS');
    expect(t1.path).toBe(t);
    expect(t1.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(readFileSync(t).length).toBeGreaterThan(0);
    expect(existsSync(f)).toBe(true); // imported files stay where they are
  });
});

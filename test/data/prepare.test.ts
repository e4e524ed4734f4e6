import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportDatasetPng, getDatasetDetail, importDataset, prepareDataset } from '../../src/backend/data/datasets';
import { loadPreparedSlices, prepareSubjectSlices, readLasVolume } from '../../src/ml/data/prepare';
import { toUint8Truncated } from '../../src/ml/data/slices';
import { hasOpenMs, openMsDir, tempHome } from './helpers';

describe.skipIf(!hasOpenMs)('open MS (../shared): import -> prepare -> cache -> reference PNG/TSV export', () => {
  const env = tempHome();
  afterAll(() => env.cleanup());
  const anat = (s: string, m: string) => join(openMsDir, `sub-${s}`, 'anat', `sub-${s}_${m}.nii.gz`);

  beforeAll(async () => {
    const d = await importDataset(env.store, { name: 'open-ms-3', dir: openMsDir, attribution: 'Lesjak et al. 2017, CC BY' });
    expect(d.subjectCount).toBe(3);
  });

  it('records grid, volumes, lesion masks and the "header does not say MNI" note', () => {
    const d = getDatasetDetail(env.store.db, 'open-ms-3');
    expect(d.grid).toBe('fsl-mni152-1mm');
    expect(d.volumeCount).toBe(9);
    expect(d.warnings).toEqual([
      '9 of 9 volumes: header does not say MNI (qform_code 1, sform_code 0); accepted because shape and affine match the FSL MNI152 1 mm (182x218x182) grid',
    ]);
    const flair = d.subjects[0]!.volumes.find((v) => v.modality === 'FLAIR')!;
    expect(flair.dims).toEqual([182, 218, 182]);
    expect(flair.orientation).toBe('LAS');
    expect(flair.path).toBe(anat('patient07', 'FLAIR'));
    expect(d.subjects.map((s) => s.volumes.map((v) => v.modality).sort())).toEqual(Array(3).fill(['FLAIR', 'T1w', 'lesion_mask']));
  });

  it('prepares the reference preset with patient19 pinned to test; the cache holds exactly the normalised slices', async () => {
    const r = await prepareDataset(env.store, env.home, 'open-ms-3', { slices: 'reference', normalisation: 'minmax', pinned: { patient19: 'test' }, seed: 3 });
    expect(r.dataset.prepared).toMatchObject({ slices: 'reference', normalisation: 'minmax', counts: { train: 5, validation: 5, test: 5 } });
    expect(r.dataset.normalisation).toBe('minmax');
    const splits = Object.fromEntries(getDatasetDetail(env.store.db, 'open-ms-3').subjects.map((s) => [s.label, s.split]));
    expect(splits['sub-patient19']).toBe('test');
    expect(new Set(Object.values(splits))).toEqual(new Set(['train', 'validation', 'test']));

    const test = loadPreparedSlices(r.cacheDir, { split: 'test' });
    expect([test.count, test.height, test.width]).toEqual([5, 160, 224]);
    expect(test.records.map((x) => [x.subject, x.z, x.mniZ])).toEqual([89, 90, 91, 92, 93].map((z) => ['sub-patient19', z, z - 72]));
    expect(test.records.every((x) => (x.lesionPixels ?? 0) > 0)).toBe(true);
    // Independent recomputation from the volumes.
    const direct = prepareSubjectSlices(
      await readLasVolume(anat('patient19', 'FLAIR')),
      await readLasVolume(anat('patient19', 'T1w')),
      null,
      { slices: { kind: 'reference' }, normalisation: 'minmax' },
    );
    let maxErr = 0;
    for (let i = 0; i < 5; i++)
      for (let p = 0; p < 160 * 224; p++) {
        maxErr = Math.max(maxErr, Math.abs(test.flair[i * 35840 + p]! - direct.flair[i]![p]!), Math.abs(test.t1w[i * 35840 + p]! - direct.t1w[i]![p]!));
      }
    expect(maxErr).toBeLessThanOrEqual(0.5 / 65535 + 1e-7);
    let max = 0;
    for (const v of test.t1w) max = Math.max(max, v);
    expect(max).toBe(1); // per-volume min-max over the block reaches 1

    const small = loadPreparedSlices(r.cacheDir, { split: 'test', size: [80, 112] });
    expect([small.count, small.height, small.width]).toEqual([5, 80, 112]);
    const box = (test.flair[0]! + test.flair[1]! + test.flair[224]! + test.flair[225]!) / 4;
    expect(small.flair[0]).toBeCloseTo(box, 6);
    expect(() => loadPreparedSlices(r.cacheDir, { size: [100, 100] })).toThrow(/whole factors/);
    expect(loadPreparedSlices(join(env.home.datasetDir(r.dataset.id))).count).toBe(15); // dataset folder works too
  });

  it('exports the reference PNG + TSV layout (224x160 8-bit, truncation, t1w<TAB>flair, sorted rows)', async () => {
    const out = join(env.dir, 'png');
    const res = await exportDatasetPng(env.store, 'open-ms-3', out);
    expect(res.rows).toEqual({ train: 5, validation: 5, test: 5 });
    expect(readdirSync(out).sort()).toEqual(['sub-patient07', 'sub-patient19', 'sub-patient26', 'test.tsv', 'train.tsv', 'validation.tsv']);
    const tsv = readFileSync(join(out, 'test.tsv'), 'utf8').trimEnd().split('\n');
    expect(tsv[0]).toBe('t1w\tflair');
    expect(tsv.slice(1)).toEqual(
      [0, 1, 2, 3, 4].map((i) => `${join(out, 'sub-patient19', `sub-patient19_slice-${i}_T1w.png`)}\t${join(out, 'sub-patient19', `sub-patient19_slice-${i}_FLAIR.png`)}`),
    );
    const png = PNG.sync.read(readFileSync(join(out, 'sub-patient19', 'sub-patient19_slice-2_T1w.png')));
    expect([png.width, png.height, png.depth, png.colorType]).toEqual([224, 160, 8, 0]);
    const direct = prepareSubjectSlices(
      await readLasVolume(anat('patient19', 'FLAIR')),
      await readLasVolume(anat('patient19', 'T1w')),
      null,
      { slices: { kind: 'reference' }, normalisation: 'minmax' },
    );
    const expected = toUint8Truncated(direct.t1w[2]!);
    // pngjs decodes to RGBA; the gray value is in every channel.
    for (let p = 0; p < 160 * 224; p += 97) expect(png.data[4 * p]).toBe(expected[p]);
    // tensor[0, r, c] = PNG row r, column c = vol[11 + r, c - 3, 91] (+ normalisation)
    const vol = await readLasVolume(anat('patient19', 'T1w'));
    const r = 80;
    const c = 120;
    expect(png.data[4 * (r * 224 + c)]).toBeGreaterThan(0);
    expect(vol.data[11 + r + 182 * (c - 3 + 218 * 91)]).toBeGreaterThan(0);
  });

  it('percentile normalisation keeps patient19 T1w from being darkened by its bright outliers', async () => {
    const minmax = loadPreparedSlices(getDatasetDetail(env.store.db, 'open-ms-3').prepared!.cacheDir, { split: 'test' });
    const r = await prepareDataset(env.store, env.home, 'open-ms-3', { slices: 'reference', normalisation: 'percentile', pinned: { patient19: 'test' }, seed: 3 });
    expect(r.dataset.normalisation).toBe('percentile');
    expect(r.index.percentiles).toEqual([0.5, 99.5]);
    const pct = loadPreparedSlices(r.cacheDir, { split: 'test' });
    const medianBrain = (x: Float32Array) => {
      const v = Array.from(x).filter((a) => a > 0.02).sort((a, b) => a - b);
      return v[Math.floor(v.length / 2)]!;
    };
    expect(medianBrain(pct.t1w)).toBeGreaterThan(medianBrain(minmax.t1w) + 0.15);
  });

  it('brain-band takes every slice with enough brain and refuses changed files', async () => {
    const r = await prepareDataset(env.store, env.home, 'open-ms-3', { slices: 'brain-band' });
    const all = loadPreparedSlices(r.cacheDir);
    expect(all.count).toBeGreaterThan(250);
    const z = all.records.filter((x) => x.subject === 'sub-patient07').map((x) => x.z);
    expect(z).toEqual(Array.from({ length: z.length }, (_, i) => z[0]! + i)); // one contiguous band
    expect(z[0]).toBeGreaterThan(10);
    expect(z.at(-1)).toBeLessThan(170);
    env.store.db.prepare("UPDATE volumes SET sha256 = 'x' WHERE modality = 'T1w'").run();
    await expect(prepareDataset(env.store, env.home, 'open-ms-3', { slices: 'reference' })).rejects.toThrow(/file changed since import/);
    // the failed run left the previous cache and record in place
    expect(getDatasetDetail(env.store.db, 'open-ms-3').prepared!.slices).toBe('brain-band');
    expect(loadPreparedSlices(r.cacheDir).count).toBe(all.count);
  });
});

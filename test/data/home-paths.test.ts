/**
 * Paths inside the home are stored relative to it: a moved home keeps working, a copied home
 * reads its own files, and rows written by older releases are rewritten by a migration.
 */
import { cpSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openBackend } from '../../src/backend';
import { createPhantomDataset, getDatasetDetail, prepareDataset } from '../../src/backend/data/datasets';
import { openStore } from '../../src/backend/store';
import { MIGRATIONS } from '../../src/backend/store/migrations';
import { volumeResponse } from '../../src/backend/data/volume-files';
import { tempDir } from './helpers';

const tmp = tempDir('bs-homepaths-');
afterAll(() => tmp.cleanup());

describe('a moved or copied home', () => {
  it('keeps serving its volumes and prepared slices from where it now is', { timeout: 180_000 }, async () => {
    const first = join(tmp.dir, 'first');
    let services = openBackend({ home: first });
    const d = await createPhantomDataset(services.store, services.home, { name: 'ph', subjects: 1 });
    await prepareDataset(services.store, services.home, d.id, { slices: 'reference' });
    const raw = services.store.db.prepare('SELECT path FROM volumes').all() as { path: string }[];
    expect(raw.every((r) => r.path.startsWith(`datasets/${d.id}/`))).toBe(true);
    const prepared = JSON.parse((services.store.db.prepare('SELECT prepared FROM datasets').get() as { prepared: string }).prepared) as { cacheDir: string };
    expect(prepared.cacheDir).toBe(`datasets/${d.id}/prepared`);
    services.close();

    const moved = join(tmp.dir, 'moved');
    renameSync(first, moved);
    services = openBackend({ home: moved });
    try {
      const detail = getDatasetDetail(services.store.db, 'ph');
      expect(detail.prepared!.cacheDir).toBe(join(moved, 'datasets', String(d.id), 'prepared'));
      const flair = detail.subjects[0]!.volumes.find((v) => v.modality === 'FLAIR')!;
      expect(flair.path.startsWith(join(moved, 'datasets', String(d.id)))).toBe(true);
      expect((await volumeResponse(services.store.db, `/volumes/${flair.id}/f.nii.gz`, {})).status).toBe(200);
    } finally {
      services.close();
    }

    // A copy reads its own files, not the original's.
    const copy = join(tmp.dir, 'copy');
    cpSync(moved, copy, { recursive: true });
    services = openBackend({ home: copy });
    try {
      const detail = getDatasetDetail(services.store.db, 'ph');
      expect(detail.prepared!.cacheDir.startsWith(copy)).toBe(true);
      expect(detail.subjects[0]!.volumes.every((v) => v.path.startsWith(copy))).toBe(true);
    } finally {
      services.close();
    }
  });
});

describe('migration of rows stored absolute by older releases', () => {
  it('rewrites paths inside this home, and paths into the datasets/<id>/ of the home it was copied from', () => {
    const home = join(tmp.dir, 'old-home');
    mkdirSync(join(home, 'datasets', '1', 'prepared'), { recursive: true });
    writeFileSync(join(home, 'datasets', '1', 'copied_T1w.nii.gz'), 'x');
    const dbPath = join(home, 'brainsynth.db');
    const old = openStore(dbPath, { migrations: MIGRATIONS.slice(0, 3) });
    const prepared = { slices: 'reference', cacheDir: join(home, 'datasets', '1', 'prepared') };
    old.db.prepare("INSERT INTO datasets (id, name, kind, prepared) VALUES (1, 'old', 'phantom', ?)").run(JSON.stringify(prepared));
    old.db.prepare("INSERT INTO subjects (id, dataset_id, label) VALUES (1, 1, 'sub-01')").run();
    const insert = old.db.prepare("INSERT INTO volumes (subject_id, modality, path, dims, pixdim, affine) VALUES (1, ?, ?, '[]', '[]', '[]')");
    insert.run('FLAIR', join(home, 'datasets', '1', 'sub-01_FLAIR.nii.gz'));
    insert.run('T1w', '/elsewhere/brainsynth-home/datasets/1/copied_T1w.nii.gz');
    insert.run('lesion_mask', '/data/study/sub-01_label-lesion_mask.nii.gz');
    old.close();

    const store = openStore(dbPath);
    try {
      const paths = Object.fromEntries((store.db.prepare('SELECT modality, path FROM volumes').all() as { modality: string; path: string }[]).map((r) => [r.modality, r.path]));
      expect(paths).toEqual({
        FLAIR: 'datasets/1/sub-01_FLAIR.nii.gz',
        T1w: 'datasets/1/copied_T1w.nii.gz',
        lesion_mask: '/data/study/sub-01_label-lesion_mask.nii.gz',
      });
      const migrated = JSON.parse((store.db.prepare('SELECT prepared FROM datasets').get() as { prepared: string }).prepared);
      expect(migrated).toEqual({ slices: 'reference', cacheDir: 'datasets/1/prepared' });
      expect(getDatasetDetail(store.db, 'old').prepared!.cacheDir).toBe(join(home, 'datasets', '1', 'prepared'));
    } finally {
      store.close();
    }
  });
});

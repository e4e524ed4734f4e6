/**
 * Run notes and tags: stored with the run (schema migration 6), normalised tags, editable at any
 * status, validated on the wire by the contract and in the service for direct callers (the CLI).
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Services } from '../../src/backend';
import { createDispatch, createHandlers } from '../../src/backend/api/handlers';
import { openStore } from '../../src/backend/store';
import { MIGRATIONS } from '../../src/backend/store/migrations';
import { subjectOfFlairPath } from '../../src/backend/store/datasets';
import { editTags, normaliseTags, splitTagList } from '../../src/shared/run-tags';
import { tempHome, tempServices } from './helpers';

let s: Services & { cleanup: () => void };
beforeEach(() => {
  s = tempServices();
});
afterEach(() => s.cleanup());

describe('tag normalisation', () => {
  it('trims, drops empty ones and keeps the first spelling of case-insensitive duplicates', () => {
    expect(normaliseTags(['  Baseline ', 'baseline', '', '   ', 'lr  sweep', 'LR sweep', 'ms'])).toEqual(['Baseline', 'lr sweep', 'ms']);
    expect(splitTagList('a, b ,,A,c')).toEqual(['a', 'b', 'c']);
    expect(editTags(['baseline', 'old'], ['new', 'Baseline'], ['OLD'])).toEqual(['baseline', 'new']);
  });
});

describe('run notes and tags', () => {
  it('a new run has no notes and no tags; both persist normalised and survive reopening the store', () => {
    const run = s.runs.create({ stage: 'autoencoder', name: 'ae' });
    expect(run.notes).toBe('');
    expect(run.tags).toEqual([]);
    const updated = s.runs.update({ id: run.id, notes: 'lr 1e-4 diverged at epoch 3\nretry with 5e-5', tags: [' Baseline', 'sweep', 'baseline'] });
    expect(updated.tags).toEqual(['Baseline', 'sweep']);
    expect(s.runs.list().runs[0]).toMatchObject({ id: run.id, notes: 'lr 1e-4 diverged at epoch 3\nretry with 5e-5', tags: ['Baseline', 'sweep'] });
  });

  it('can be edited after the run has finished (unlike its config)', () => {
    const run = s.runs.create({ stage: 'ldm', status: 'running' });
    s.runs.update({ id: run.id, status: 'completed' });
    expect(s.runs.update({ id: run.id, tags: ['keep'] }).tags).toEqual(['keep']);
    expect(s.runs.update({ id: run.id, notes: 'best so far' }).notes).toBe('best so far');
    expect(s.runs.get(run.id).status).toBe('completed');
  });

  it('emits run.updated for an annotation', () => {
    const run = s.runs.create({ stage: 'ldm' });
    const seen: string[][] = [];
    s.events.on('run.updated', (e) => seen.push(e.run.tags));
    s.runs.update({ id: run.id, tags: ['a'] });
    expect(seen).toEqual([['a']]);
  });

  it('refuses too many or too long tags and overlong notes, naming the run and the limit', () => {
    const run = s.runs.create({ stage: 'ldm' });
    expect(() => s.runs.update({ id: run.id, tags: Array.from({ length: 21 }, (_, i) => `t${i}`) })).toThrow(`run ${run.id}: a run has at most 20 tags, got 21`);
    expect(() => s.runs.update({ id: run.id, tags: ['x'.repeat(41)] })).toThrow(/longer than 40 characters/);
    expect(() => s.runs.update({ id: run.id, notes: 'n'.repeat(20_001) })).toThrow(`run ${run.id}: notes are limited to 20000 characters, got 20001`);
    // Duplicates do not count towards the limit.
    expect(s.runs.update({ id: run.id, tags: [...Array.from({ length: 20 }, (_, i) => `t${i}`), 'T0', 't1 '] }).tags).toHaveLength(20);
  });

  it('runs.update over the validating dispatch: accepts notes and tags, refuses bad tags before the handler runs', async () => {
    const dispatch = createDispatch(createHandlers({ services: s, host: 'bridge' }), () => undefined);
    const run = s.runs.create({ stage: 'controlnet' });
    const ok = await dispatch('runs.update', { id: run.id, notes: 'from the app', tags: ['Paper', 'paper', 'fig 3'] });
    expect(ok).toMatchObject({ ok: true, data: { id: run.id, notes: 'from the app', tags: ['Paper', 'fig 3'] } });
    const got = await dispatch('runs.get', { id: run.id });
    expect(got).toMatchObject({ ok: true, data: { notes: 'from the app', tags: ['Paper', 'fig 3'] } });
    const tooMany = await dispatch('runs.update', { id: run.id, tags: Array.from({ length: 25 }, (_, i) => `tag${i}`) });
    expect(tooMany).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
    expect(JSON.stringify(tooMany)).toContain('at most 20 tags, got 25');
    const notStrings = await dispatch('runs.update', { id: run.id, tags: 'a,b' });
    expect(notStrings.ok).toBe(false);
    expect(s.runs.get(run.id).tags).toEqual(['Paper', 'fig 3']);
  });

  it('migration 6 gives runs of an older database empty notes and tags', () => {
    const home = tempHome();
    try {
      const path = join(home.dir, 'brainsynth.db');
      const old = openStore(path, { migrations: MIGRATIONS.slice(0, 5) });
      old.db.prepare("INSERT INTO runs (stage, name) VALUES ('autoencoder', 'before notes')").run();
      old.close();
      const store = openStore(path);
      expect(store.schemaVersion).toBe(6);
      expect(store.db.prepare('SELECT name, notes, tags FROM runs').get()).toEqual({ name: 'before notes', notes: '', tags: '[]' });
      store.close();
    } finally {
      home.cleanup();
    }
  });
});

describe('translated volumes name their dataset subject', () => {
  it('finds the subject whose FLAIR is a given file (stored inside or outside the home), and nothing for other files', () => {
    const db = s.store.db;
    const datasetId = Number(db.prepare("INSERT INTO datasets (name, kind) VALUES ('d', 'imported')").run().lastInsertRowid);
    const addSubject = (label: string, flairPath: string) => {
      const subjectId = Number(db.prepare('INSERT INTO subjects (dataset_id, label) VALUES (?, ?)').run(datasetId, label).lastInsertRowid);
      db.prepare("INSERT INTO volumes (subject_id, modality, path, dims, pixdim, affine) VALUES (?, 'FLAIR', ?, '[]', '[]', '[]')").run(subjectId, flairPath);
      db.prepare("INSERT INTO volumes (subject_id, modality, path, dims, pixdim, affine) VALUES (?, 'T1w', ?, '[]', '[]', '[]')").run(subjectId, flairPath.replace('FLAIR', 'T1w'));
    };
    addSubject('sub-01', 'datasets/1/sub-01_FLAIR.nii.gz'); // inside the home: stored relative to it
    addSubject('sub-02', '/data/elsewhere/sub-02_FLAIR.nii.gz');
    expect(subjectOfFlairPath(db, join(s.home.root, 'datasets/1/sub-01_FLAIR.nii.gz'))).toEqual({ datasetId, subject: 'sub-01' });
    expect(subjectOfFlairPath(db, '/data/elsewhere/sub-02_FLAIR.nii.gz')).toEqual({ datasetId, subject: 'sub-02' });
    expect(subjectOfFlairPath(db, join(s.home.root, 'datasets/1/sub-01_T1w.nii.gz'))).toBeUndefined();
    expect(subjectOfFlairPath(db, '/tmp/other_FLAIR.nii.gz')).toBeUndefined();
  });
});

describe('touch', () => {
  it('moves updated_at and emits run.updated without changing anything else', async () => {
    const run = s.runs.create({ stage: 'controlnet', name: 'cn' });
    const seen: number[] = [];
    s.events.on('run.updated', (e) => seen.push(e.run.id));
    await new Promise((r) => setTimeout(r, 5)); // timestamps have millisecond resolution
    const touched = s.runs.touch(run.id);
    expect(touched.updatedAt > run.updatedAt).toBe(true);
    expect({ ...touched, updatedAt: run.updatedAt }).toEqual(run);
    expect(seen).toEqual([run.id]);
    expect(() => s.runs.touch(999)).toThrow(/run 999 does not exist/);
  });
});

import { resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Services } from '../../src/backend';
import { downsampleMinMax } from '../../src/backend/runs/downsample';
import { tempServices } from './helpers';

let s: Services & { cleanup: () => void };
beforeEach(() => {
  s = tempServices();
});
afterEach(() => s.cleanup());

const count = (sql: string) => (s.store.db.prepare(sql).get() as { n: number }).n;

describe('runs', () => {
  it('creates a run with config, seed, parents and an event', () => {
    const seen: number[] = [];
    s.events.on('run.updated', (e) => seen.push(e.run.id));
    const ae = s.runs.create({ stage: 'autoencoder', config: { lr: 1e-4 }, seed: 42, backend: 'tensorflow' });
    const ldm = s.runs.create({ stage: 'ldm', parents: [{ runId: ae.id, role: 'autoencoder' }], name: 'ldm-a' });
    expect(ae.config).toEqual({ lr: 1e-4 });
    expect(ae.seed).toBe(42);
    expect(ae.status).toBe('created');
    expect(ldm.parents).toEqual([{ runId: ae.id, role: 'autoencoder' }]);
    expect(s.runs.get(ldm.id).name).toBe('ldm-a');
    expect(seen).toEqual([ae.id, ldm.id]);
  });

  it('a run with a missing parent is not created at all', () => {
    expect(() => s.runs.create({ stage: 'ldm', parents: [{ runId: 999, role: 'autoencoder' }] })).toThrow(/parent run 999 does not exist/);
    expect(count('SELECT count(*) AS n FROM runs')).toBe(0);
  });

  it('status moves along allowed transitions and stamps the times', () => {
    const run = s.runs.create({ stage: 'ldm' });
    const running = s.runs.update({ id: run.id, status: 'running' });
    expect(running.startedAt).not.toBeNull();
    expect(running.finishedAt).toBeNull();
    const failed = s.runs.update({ id: run.id, status: 'failed', error: 'out of memory' });
    expect(failed.finishedAt).not.toBeNull();
    expect(failed.error).toBe('out of memory');
    const resumed = s.runs.update({ id: run.id, status: 'running' });
    expect(resumed.finishedAt).toBeNull();
    expect(resumed.error).toBeNull();
    expect(resumed.startedAt).toBe(running.startedAt);
    s.runs.update({ id: run.id, status: 'completed' });
    expect(() => s.runs.update({ id: run.id, status: 'running' })).toThrow(/cannot change status from 'completed' to 'running'/);
    expect(s.runs.get(run.id).status).toBe('completed');
  });

  it('lists newest first with filters, dataset names and metric summaries', () => {
    s.store.db.prepare("INSERT INTO datasets (name, kind) VALUES ('open-ms', 'imported')").run();
    const a = s.runs.create({ stage: 'autoencoder', datasetId: 1 });
    const b = s.runs.create({ stage: 'ldm' });
    s.metrics.append(a.id, [
      { step: 0, name: 'loss', value: 3 },
      { step: 1, name: 'loss', value: 1 },
      { step: 2, name: 'loss', value: 2 },
      { step: 2, name: 'psnr', value: 20, split: 'validation' },
      { step: 4, name: 'psnr', value: 18, split: 'validation' },
    ]);
    const all = s.runs.list();
    expect(all.total).toBe(2);
    expect(all.runs.map((r) => r.id)).toEqual([b.id, a.id]);
    const ae = s.runs.list({ stage: 'autoencoder' }).runs;
    expect(ae).toHaveLength(1);
    expect(ae[0]!.datasetName).toBe('open-ms');
    const loss = ae[0]!.metrics.find((m) => m.name === 'loss')!;
    expect(loss).toMatchObject({ goal: 'min', count: 3, last: { step: 2, value: 2 }, best: { step: 1, value: 1 } });
    const psnr = ae[0]!.metrics.find((m) => m.name === 'psnr')!;
    expect(psnr).toMatchObject({ split: 'validation', goal: 'max', last: { step: 4, value: 18 }, best: { step: 2, value: 20 } });
  });

  it('config can only change before the run starts', () => {
    const run = s.runs.create({ stage: 'ldm', config: { a: 1 } });
    expect(s.runs.update({ id: run.id, config: { a: 2 } }).config).toEqual({ a: 2 });
    s.runs.update({ id: run.id, status: 'running' });
    expect(() => s.runs.update({ id: run.id, config: { a: 3 } })).toThrow(/config can only change before the run starts/);
  });
});

describe('metrics', () => {
  it('appends a batch atomically: one bad point and nothing is written', () => {
    const run = s.runs.create({ stage: 'ldm' });
    const good = Array.from({ length: 100 }, (_, i) => ({ step: i, name: 'loss', value: i }));
    expect(() => s.metrics.append(run.id, [...good, { step: 100, name: 'loss', value: Number.NaN }])).toThrow(/points\[100\]\.value/);
    expect(count('SELECT count(*) AS n FROM metrics')).toBe(0);
    expect(() => s.metrics.append(999, good)).toThrow(/run 999 does not exist/);
    expect(s.metrics.append(run.id, good)).toBe(100);
    expect(count('SELECT count(*) AS n FROM metrics')).toBe(100);
  });

  it('a batch that fails inside SQLite rolls back entirely', () => {
    const run = s.runs.create({ stage: 'ldm' });
    // Violates NOT NULL on name half-way through: the rows before it must not survive.
    const points = [
      { step: 0, name: 'loss', value: 1 },
      { step: 1, name: null as unknown as string, value: 1 },
    ];
    expect(() => s.metrics.append(run.id, points)).toThrow();
    expect(count('SELECT count(*) AS n FROM metrics')).toBe(0);
  });

  it('re-logging a step overwrites instead of duplicating; deleteAfter trims for resume', () => {
    const run = s.runs.create({ stage: 'ldm' });
    s.metrics.append(run.id, Array.from({ length: 10 }, (_, i) => ({ step: i, name: 'loss', value: i })));
    expect(s.metrics.deleteAfter(run.id, 4)).toBe(5);
    s.metrics.append(run.id, [{ step: 4, name: 'loss', value: 40 }, { step: 5, name: 'loss', value: 50 }]);
    const [series] = s.metrics.query(run.id, { names: ['loss'] });
    expect(series!.steps).toEqual([0, 1, 2, 3, 4, 5]);
    expect(series!.values).toEqual([0, 1, 2, 3, 40, 50]);
  });

  it('query filters by name, split and step range, and downsamples keeping extremes and the last point', () => {
    const run = s.runs.create({ stage: 'ldm' });
    const n = 10_000;
    const points = Array.from({ length: n }, (_, i) => ({ step: i, name: 'loss', value: Math.sin(i / 100) }));
    points[5_000]!.value = 99; // a spike
    points.push({ step: 0, name: 'psnr', value: 1, split: 'validation' } as (typeof points)[number]);
    s.metrics.append(run.id, points);
    const [loss] = s.metrics.query(run.id, { names: ['loss'], maxPoints: 200 });
    expect(loss!.total).toBe(n);
    expect(loss!.downsampled).toBe(true);
    expect(loss!.steps.length).toBeLessThanOrEqual(200);
    expect(loss!.steps.length).toBeGreaterThan(150);
    expect(Math.max(...loss!.values)).toBe(99);
    expect(Math.min(...loss!.values)).toBeCloseTo(Math.min(...points.slice(0, n).map((p) => p.value)), 10);
    expect(loss!.steps.at(-1)).toBe(n - 1);
    expect([...loss!.steps].sort((a, b) => a - b)).toEqual(loss!.steps);
    const val = s.metrics.query(run.id, { split: 'validation' });
    expect(val.map((x) => x.name)).toEqual(['psnr']);
    const range = s.metrics.query(run.id, { names: ['loss'], fromStep: 10, toStep: 19 });
    expect(range[0]!.steps).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  });

  it('emits metrics.appended after the commit', () => {
    const run = s.runs.create({ stage: 'ldm' });
    const events: unknown[] = [];
    s.events.on('metrics.appended', (e) => events.push(e));
    s.metrics.append(run.id, [{ step: 3, name: 'loss', value: 1 }, { step: 7, name: 'kl', value: 2 }]);
    expect(events).toEqual([{ runId: run.id, count: 2, names: ['loss', 'kl'], lastStep: 7 }]);
  });
});

describe('checkpoints, artefacts, experiments, datasets', () => {
  it('records checkpoints and finds the latest', () => {
    const run = s.runs.create({ stage: 'autoencoder' });
    s.checkpoints.add(run.id, { path: 'a.safetensors', step: 100, sha256: 'aa' });
    s.checkpoints.add(run.id, { path: 'b.safetensors', step: 200, sha256: 'bb' });
    s.checkpoints.add(run.id, { path: 'best.safetensors', step: 150, sha256: 'cc', kind: 'best' });
    // A relative path is taken relative to the working folder.
    expect(s.checkpoints.latest(run.id)!.path).toBe(resolve('b.safetensors'));
    expect(s.checkpoints.list(run.id)).toHaveLength(3);
  });

  it('adds artefacts all or none', () => {
    const run = s.runs.create({ stage: 'evaluation' });
    expect(() =>
      s.artefacts.addMany([
        { runId: run.id, kind: 'image', path: 'a.png' },
        { kind: 'image', path: 'orphan.png' },
      ]),
    ).toThrow(/artefacts\[1\] \(orphan.png\): needs a runId or a datasetId/);
    expect(s.artefacts.list()).toHaveLength(0);
    s.artefacts.addMany([{ runId: run.id, kind: 'image', path: 'a.png', meta: { slice: 90 } }]);
    expect(s.artefacts.list({ runId: run.id })[0]!.meta).toEqual({ slice: 90 });
  });

  it('experiments have unique names and count their runs', () => {
    const e = s.experiments.create({ name: 'latent scale ablation' });
    s.runs.create({ stage: 'ldm', experimentId: e.id });
    expect(s.experiments.list()[0]!.runCount).toBe(1);
    expect(() => s.experiments.create({ name: 'latent scale ablation' })).toThrow(/already exists/);
  });

  it('lists datasets with subject and volume counts', () => {
    s.store.db.prepare("INSERT INTO datasets (name, kind, warnings) VALUES ('open-ms', 'imported', '[\"w\"]')").run();
    s.store.db.prepare("INSERT INTO subjects (dataset_id, label) VALUES (1, 'sub-patient01')").run();
    expect(s.datasets.list()).toMatchObject([{ name: 'open-ms', subjectCount: 1, volumeCount: 0, warnings: ['w'], synthetic: false }]);
    expect(() => s.datasets.get(5)).toThrow(/dataset 5 does not exist/);
  });
});

describe('downsampleMinMax', () => {
  it('returns short series unchanged', () => {
    expect(downsampleMinMax([1, 2, 3], [4, 5, 6], 10)).toEqual({ steps: [1, 2, 3], values: [4, 5, 6] });
  });
});

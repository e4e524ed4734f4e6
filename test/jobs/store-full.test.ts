import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/backend';
import type { TrainingJobs } from '../../src/backend/training/training-jobs';
import { jobsWith, makeHome, TINY } from './helpers';

/**
 * SQLITE_FULL in each store write a training job's host makes (metric flush with the
 * checkpoint, 'started', artefact), injected at a known step: the job fails with "disk full at
 * <database>", the checkpoint the metrics belonged to never becomes the resume point, the host
 * takes the next job, and a resume finishes the run once the store can write again.
 */
let home: string;
let services: Services;
let datasetId: number;
let jobs: TrainingJobs;
let holdNext: number | undefined;

beforeAll(() => {
  ({ home, services, datasetId } = makeHome());
  jobs = jobsWith(services, {
    pollMs: 100,
    // Metrics wait for the checkpoint that follows them, whatever the machine's speed.
    flushMs: 3_600_000,
    holdAtStep: () => {
      const step = holdNext;
      holdNext = undefined;
      return step;
    },
  });
});
afterAll(() => {
  jobs.closeSync();
  services.close();
  rmSync(home, { recursive: true, force: true });
});

const ae = () => ({
  stage: 'autoencoder' as const,
  datasetId,
  preset: 'desktop' as const,
  backend: 'wasm',
  epochs: 2,
  overrides: [...TINY.common, ...TINY.autoencoder, 'loop.maxStepsPerEpoch=3', 'loop.checkpointEvery=2'],
});

const sqliteFull = () => Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });

/** Makes `obj[name]` throw SQLITE_FULL until the returned function restores it. */
function failing<T extends object>(obj: T, name: keyof T): () => void {
  const original = obj[name];
  (obj as Record<keyof T, unknown>)[name] = () => {
    throw sqliteFull();
  };
  return () => ((obj as Record<keyof T, unknown>)[name] = original);
}

const trainSteps = (runId: number) =>
  (services.store.db.prepare("SELECT step FROM metrics WHERE run_id = ? AND split = 'train' AND name = 'loss' ORDER BY step").all(runId) as { step: number }[]).map((r) => r.step);
const lastPointer = (runId: number) => JSON.parse(readFileSync(join(services.home.runDir(runId), 'checkpoints', 'last.json'), 'utf8')) as { step: number };

describe('a full database during training', { timeout: 300_000 }, () => {
  it('fails the job at the metric flush, keeps the earlier resume point, and resumes', async () => {
    holdNext = 2;
    const run = await jobs.start(ae());
    expect(await jobs.held(run.id)).toBe(2);
    expect(lastPointer(run.id).step).toBe(2);
    const restore = failing(services.metrics, 'append');
    jobs.release(run.id);
    const { run: failed } = await jobs.waitFor(run.id);
    restore();
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(new RegExp(`disk full at ${services.store.path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(database or disk is full\\)`));
    // The step-3 checkpoint's metrics were not stored, so it never became the resume point.
    expect(lastPointer(run.id).step).toBe(2);
    expect(services.checkpoints.latest(run.id, 'last')!.step).toBe(2);

    jobs.resume(run.id);
    const { run: done } = await jobs.waitFor(run.id);
    expect(done.status).toBe('completed');
    expect(trainSteps(run.id)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('fails the job when its start or an image cannot be recorded; the host goes on', async () => {
    // 'started' and the final status both fail: the caller still learns how the job ended.
    let restore = failing(services.runs, 'update');
    const run = await jobs.start(ae());
    const { run: failed } = await jobs.waitFor(run.id);
    restore();
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/disk full at .*brainsynth\.db \(database or disk is full\).*not recorded in the database/);

    restore = failing(services.artefacts, 'add');
    const second = await jobs.start(ae());
    const { run: failed2 } = await jobs.waitFor(second.id);
    restore();
    expect(failed2.status).toBe('failed');
    expect(failed2.error).toMatch(/disk full at .*brainsynth\.db/);
    expect(services.runs.get(second.id).status).toBe('failed');
  });
});

import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import type { EventPayload, Run } from '../../src/shared/contract';
import type { Services } from '../../src/backend';
import type { TrainingJobs } from '../../src/backend/training/training-jobs';
import { createJobWorker } from '../../src/backend/jobs/host';
import { checkpointDir, readCheckpointMeta } from '../../src/ml/pipeline/checkpoint';
import { jobsWith, makeHome, TINY } from './helpers';

/**
 * The job host end to end with real worker threads: a tiny run completes with metrics,
 * checkpoints and images in the store; invalid configs are refused before anything is created;
 * cancel (in-process and from another connection), a killed worker, resume, and stale runs.
 */
let home: string;
let services: Services;
let datasetId: number;
let jobs: TrainingJobs;
let lastWorker: Worker | null = null;
const progress: EventPayload<'job.progress'>[] = [];
const updates: EventPayload<'job.updated'>[] = [];
const logs: EventPayload<'run.log'>[] = [];
/** The next job started or resumed is held once it has done this many steps (then the gate resets). */
let holdNext: number | undefined;

beforeAll(() => {
  ({ home, services, datasetId } = makeHome());
  jobs = jobsWith(services, {
    createWorker: (input) => (lastWorker = createJobWorker(input)),
    pollMs: 100,
    flushMs: 200,
    holdAtStep: () => {
      const step = holdNext;
      holdNext = undefined;
      return step;
    },
  });
  services.events.on('job.progress', (p) => progress.push(p));
  services.events.on('job.updated', (j) => updates.push(j));
  services.events.on('run.log', (l) => logs.push(l));
});
afterAll(() => {
  jobs.closeSync();
  services.close();
  rmSync(home, { recursive: true, force: true });
});

const ae = (extra: string[] = []) => ({
  stage: 'autoencoder' as const,
  datasetId,
  preset: 'desktop' as const,
  backend: 'wasm',
  epochs: 2,
  overrides: [...TINY.common, ...TINY.autoencoder, 'loop.maxStepsPerEpoch=3', 'loop.checkpointEvery=2', ...extra],
});

function trainSteps(runId: number): number[] {
  return (services.store.db.prepare("SELECT step FROM metrics WHERE run_id = ? AND split = 'train' AND name = 'loss' ORDER BY step").all(runId) as { step: number }[]).map(
    (r) => r.step,
  );
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/** Starts (or resumes) a job that the host holds before its next step once `step` steps are done. */
async function startHeld(step: number, begin: () => Run | Promise<Run>): Promise<Run> {
  holdNext = step;
  const run = await begin();
  expect(await jobs.held(run.id)).toBe(step);
  return run;
}

describe('training jobs', () => {
  let aeRunId: number;

  it('runs a tiny autoencoder job in a worker: metrics, checkpoints, images, progress', async () => {
    const run = await jobs.start(ae());
    expect(run.status).toBe('queued');
    expect(jobs.list()).toHaveLength(1);
    const { run: done, summary } = await jobs.waitFor(run.id);
    expect(done.status).toBe('completed');
    expect(done.error).toBeNull();
    expect(done.backend).toBe('wasm');
    expect(summary).toMatchObject({ stage: 'autoencoder', step: 6, backend: 'wasm' });
    expect(trainSteps(run.id)).toEqual(range(1, 6));
    const cps = services.checkpoints.list(run.id);
    expect(cps.map((c) => c.kind).sort()).toEqual(['best', 'last']);
    expect(cps.find((c) => c.kind === 'last')!.step).toBe(6);
    expect(existsSync(cps[0]!.path)).toBe(true);
    const images = services.artefacts.list({ runId: run.id, kind: 'image' });
    expect(images.length).toBe(2);
    const mine = progress.filter((p) => p.runId === run.id && p.training);
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.at(-1)!.training).toMatchObject({ stage: 'autoencoder', epochs: 2, totalSteps: 6, backend: 'wasm' });
    // The one job event carries the same detail, which the Train view follows.
    const followed = updates.filter((j) => j.runId === run.id && j.training);
    expect(followed.length).toBeGreaterThan(0);
    expect(followed.at(-1)).toMatchObject({ kind: 'train', training: { stage: 'autoencoder', epochs: 2, totalSteps: 6, backend: 'wasm' } });
    expect(jobs.list()).toHaveLength(0);
    expect(existsSync(join(services.home.runDir(run.id), 'job.json'))).toBe(false);
    aeRunId = run.id;
  });

  it('refuses invalid configs before any work, with the reason', async () => {
    const count = () => (services.store.db.prepare('SELECT count(*) AS n FROM runs').get() as { n: number }).n;
    const before = count();
    await expect(jobs.start({ ...ae(), datasetId: 999 })).rejects.toThrow(/unknown dataset 999/);
    await expect(jobs.start({ ...ae(), stage: 'ldm', overrides: TINY.common })).rejects.toThrow(/needs a parent autoencoder run/);
    await expect(jobs.start({ ...ae(), stage: 'controlnet', parentRunId: aeRunId, overrides: TINY.common })).rejects.toThrow(
      /parent run \d+ is a autoencoder run; the controlnet stage needs a ldm run/,
    );
    await expect(jobs.start({ ...ae(), parentRunId: 12345 })).rejects.toThrow(/parent run 12345 does not exist/);
    await expect(jobs.start(ae(['autoencoder.network.norm_num_groups=3']))).rejects.toThrow(/divisible by norm_num_groups=3/);
    await expect(jobs.start(ae(['autoencoder.network.num_channels=[8,16,16,16]', 'autoencoder.network.attention_levels=[false,false,false,false]']))).rejects.toThrow(/not divisible by the autoencoder's downsampling factor 8/);
    await expect(jobs.start(ae(['autoencoder.learningRate=1']))).rejects.toThrow(/unknown config key/);
    await expect(jobs.start({ stage: 'ldm', datasetId, preset: 'desktop', parentRunId: aeRunId, overrides: [...TINY.common, ...TINY.ldm, 'ldm.network.in_channels=3', 'ldm.network.out_channels=3'] }),
    ).rejects.toThrow(/in_channels=3 does not match the autoencoder's latent_channels=2/);
    expect(count()).toBe(before);
  });

  it('previews the config a start would use, with the reference values beside it', async () => {
    const { config, reference } = await jobs.previewConfig({ stage: 'ldm', preset: 'desktop', parentRunId: aeRunId, datasetId, overrides: [...TINY.common, ...TINY.ldm] });
    await expect(jobs.previewConfig({ stage: 'ldm', preset: 'desktop', parentRunId: aeRunId })).rejects.toThrow(/the 10x14 latent cannot be halved 2 times/);
    expect(config).toMatchObject({ stage: 'ldm', preset: 'desktop', imageSize: [20, 28], ldm: { network: { in_channels: 2 } } });
    expect(reference).toMatchObject({ stage: 'ldm', preset: 'reference', imageSize: [160, 224], ldm: { lr: 2.5e-5, network: { num_channels: [256, 512, 768] } } });
    await expect(jobs.previewConfig({ stage: 'controlnet', preset: 'desktop', parentRunId: aeRunId })).rejects.toThrow(/needs a ldm run/);
  });

  it('trains an LDM and a ControlNet on their parents through the queue', async () => {
    const ldm = await jobs.start({ stage: 'ldm', datasetId, preset: 'desktop', parentRunId: aeRunId, backend: 'wasm', epochs: 1, overrides: [...TINY.common, ...TINY.ldm, 'loop.maxStepsPerEpoch=3'] });
    expect(ldm.parents).toEqual([{ runId: aeRunId, role: 'autoencoder' }]);
    const ldmDone = await jobs.waitFor(ldm.id);
    expect(ldmDone.run.status).toBe('completed');
    const cn = await jobs.start({ stage: 'controlnet', datasetId, preset: 'desktop', parentRunId: ldm.id, backend: 'wasm', epochs: 1, overrides: [...TINY.common, ...TINY.controlnet, 'loop.maxStepsPerEpoch=3'] });
    const cnDone = await jobs.waitFor(cn.id);
    expect(cnDone.run.error).toBeNull();
    expect(cnDone.run.status).toBe('completed');
    expect(trainSteps(cn.id)).toEqual([1, 2, 3]);
    expect(services.artefacts.list({ runId: cn.id, kind: 'image' })[0]!.path).toMatch(/flair-generated-real/);
  });

  it('cancel stops a running job after a checkpoint; resume continues with the same step numbers', async () => {
    // Held after step 2 of 6, so the cancel lands there however fast the machine is.
    const run = await startHeld(2, () => jobs.start(ae(['loop.maxStepsPerEpoch=50', 'loop.checkpointEvery=100'])));
    jobs.cancel(run.id);
    const { run: cancelled } = await jobs.waitFor(run.id);
    expect(cancelled.status).toBe('cancelled');
    const stoppedAt = readCheckpointMeta(checkpointDir(services.home.runDir(run.id), 'last')!).step;
    expect(stoppedAt).toBe(2);
    expect(trainSteps(run.id)).toEqual(range(1, stoppedAt));
    let resumed: Run | undefined;
    await startHeld(stoppedAt + 2, () => (resumed = jobs.resume(run.id)));
    expect(resumed!.status).toBe('queued');
    expect(trainSteps(run.id)).toEqual(range(1, stoppedAt + 2));
    // The loop's notice of where it resumed reaches the back end's listeners (the CLI prints it).
    expect(logs.filter((l) => l.runId === run.id).map((l) => l.message)).toEqual([`resuming at step ${stoppedAt} (epoch 1, batch ${stoppedAt})`]);
    jobs.cancel(run.id);
    await jobs.waitFor(run.id);
    const steps = trainSteps(run.id);
    expect(steps).toEqual(range(1, steps.length));
  });

  it('a killed worker marks the run failed; resume deletes metrics past the checkpoint and continues exactly once per step', async () => {
    const run = await startHeld(3, () => jobs.start(ae(['loop.maxStepsPerEpoch=4', 'loop.checkpointEvery=2'])));
    expect(trainSteps(run.id)).toEqual(range(1, 3));
    await lastWorker!.terminate();
    const { run: failed } = await jobs.waitFor(run.id);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/worker exited unexpectedly/);
    const ckptStep = readCheckpointMeta(checkpointDir(services.home.runDir(run.id), 'last')!).step;
    jobs.resume(run.id);
    expect(Math.max(0, ...trainSteps(run.id))).toBe(ckptStep);
    const { run: done } = await jobs.waitFor(run.id);
    expect(done.status).toBe('completed');
    expect(trainSteps(run.id)).toEqual(range(1, 6));
  });

  it('a NaN loss fails the run with the reason and keeps the last good checkpoint', async () => {
    const run = await jobs.start(ae(['autoencoder.lr=1e30', 'loop.checkpointEvery=1']));
    const { run: failed } = await jobs.waitFor(run.id);
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/loss '\w+' became (NaN|-?Infinity) at step (\d+).*last good checkpoint \(step \d+\) is kept/);
    const step = Number(/at step (\d+)/.exec(failed.error!)![1]);
    expect(services.checkpoints.list(run.id).find((c) => c.kind === 'last')!.step).toBe(step - 1);
    expect(Math.max(...trainSteps(run.id))).toBe(step - 1);
  });

  it('cancel from another process (runs.cancel_requested) stops the job', async () => {
    const run = await startHeld(1, () => jobs.start(ae(['loop.maxStepsPerEpoch=50'])));
    const other = new Database(services.home.dbPath);
    other.prepare('UPDATE runs SET cancel_requested = 1 WHERE id = ?').run(run.id);
    other.close();
    const { run: done } = await jobs.waitFor(run.id);
    expect(done.status).toBe('cancelled');
  });

  it('marks runs left running by a dead process as failed (never "running" forever)', () => {
    const run = services.runs.create({ stage: 'autoencoder', datasetId, status: 'running', config: {} });
    mkdirSync(services.home.runDir(run.id), { recursive: true });
    writeFileSync(join(services.home.runDir(run.id), 'job.json'), JSON.stringify({ pid: 2 ** 22 + 7, host: hostname(), heartbeat: Date.now() }));
    const changed = jobs.recoverStale();
    expect(changed.map((r) => r.id)).toContain(run.id);
    const after = services.runs.get(run.id);
    expect(after.status).toBe('failed');
    expect(after.error).toMatch(/interrupted/);
    // Without an owner file: a just-created run may belong to a process that has not written it
    // yet; an old one is stale.
    const fresh = services.runs.create({ stage: 'autoencoder', datasetId, status: 'queued', config: {} });
    const old = services.runs.create({ stage: 'autoencoder', datasetId, status: 'queued', config: {} });
    services.store.db.prepare("UPDATE runs SET updated_at = '2020-01-01T00:00:00.000Z' WHERE id = ?").run(old.id);
    const ids = jobs.recoverStale().map((r) => r.id);
    expect(ids).toContain(old.id);
    expect(ids).not.toContain(fresh.id);
    expect(services.runs.get(old.id)).toMatchObject({ status: 'cancelled', error: expect.stringMatching(/queued in a process that exited/) });
  });
});

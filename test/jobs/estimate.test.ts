import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/backend';
import type { Job } from '../../src/shared/contract';
import { extrapolateStepTime } from '../../src/ml/train/estimate';
import { DESKTOP_BUDGET_MINUTES } from '../../src/ml/train/config';
import { makeHome, TINY } from './helpers';

/**
 * 'train.estimate' end to end on the back end: the config jobs.start would use, real optimiser
 * steps timed by an 'estimate' job on the one job host (a worker thread, compute lane), and the
 * projection over the dataset's train split. Numbers are asserted positive and consistent, never
 * against the clock.
 */
let home: string;
let services: Services;
let datasetId: number;

beforeAll(() => {
  ({ home, services, datasetId } = makeHome({ train: 10, validation: 2 }));
});

afterAll(() => {
  services.close();
  rmSync(home, { recursive: true, force: true });
});

describe('train.estimate', () => {
  it('times the desktop autoencoder on the job host and projects positive times per epoch and run', async () => {
    const seen: Job[] = [];
    const off = services.events.on('job.updated', (j) => seen.push(j));
    const e = await services.estimates.estimate({ stage: 'autoencoder', datasetId, preset: 'desktop' });
    off();

    expect(e.backend.length).toBeGreaterThan(0);
    expect(e.secondsPerStep).toBeGreaterThan(0);
    expect(e.warmupSeconds).toBeGreaterThan(0);
    expect(e.timedSteps).toBeGreaterThanOrEqual(1);
    // The desktop autoencoder's batch (2) is timed as it is, on real slices at the desktop size.
    expect(e.batchSize).toBe(2);
    expect(e.timedBatches.map((b) => b.batch)).toEqual([2]);
    expect(e.imageSize).toEqual([80, 112]);
    expect(e.trainSlices).toBe(10);
    expect(e.stepsPerEpoch).toBe(5);
    expect(e.secondsPerEpoch).toBeCloseTo(5 * e.secondsPerStep);
    // The desktop preset trains to a time budget: the answer says what it buys.
    expect(e.stepsInBudget).toBe(Math.floor((DESKTOP_BUDGET_MINUTES.autoencoder * 60) / e.secondsPerStep));
    expect(e.totalSteps).toBeGreaterThan(0);
    expect(e.totalSeconds).toBeCloseTo(e.totalSteps * e.secondsPerStep);
    expect(e.adversarial).toBe(true);

    const job = seen.find((j) => j.kind === 'estimate');
    expect(job?.lane).toBe('compute');
    expect(job?.runId).toBeNull();
    expect(services.host.get(job!.jobId).state).toBe('completed');
    // Nothing was written: no run exists.
    expect(services.runs.list({}).runs).toHaveLength(0);
  });

  it('extrapolates a batch too large to time from two small ones', async () => {
    const overrides = [...TINY.common, ...TINY.autoencoder, 'loop.batchSize=16'];
    const e = await services.estimates.estimate({ stage: 'autoencoder', datasetId, preset: 'desktop', overrides });
    // The split has 10 slices: the largest batch a step can take.
    expect(e.batchSize).toBe(10);
    expect(e.timedBatches.map((b) => b.batch)).toEqual([1, 2]);
    expect(e.timedBatches.every((b) => b.secondsPerStep > 0)).toBe(true);
    expect(e.secondsPerStep).toBeCloseTo(extrapolateStepTime(e.timedBatches[0]!, e.timedBatches[1]!, 10));
    expect(e.stepsPerEpoch).toBe(1);
  });

  it('refuses what jobs.start would refuse, naming the reason', async () => {
    await expect(services.estimates.estimate({ stage: 'autoencoder', datasetId: 999, preset: 'desktop' })).rejects.toThrow(/unknown dataset 999/);
    await expect(services.estimates.estimate({ stage: 'autoencoder', datasetId, preset: 'desktop', overrides: ['loop.batchSize=0'] })).rejects.toThrow(
      /loop\.batchSize/,
    );
    await expect(services.estimates.estimate({ stage: 'ldm', datasetId, preset: 'desktop' })).rejects.toThrow(/autoencoder/);
  });
});

describe('train.estimate with a parent run and a busy compute lane', () => {
  let h: { home: string; services: Services; datasetId: number };
  let aeRunId: number;
  const tinyAe = () => [...TINY.common, ...TINY.autoencoder, 'loop.maxStepsPerEpoch=1'];

  beforeAll(async () => {
    h = makeHome({ train: 4, validation: 2 });
    const run = await h.services.training.start({ stage: 'autoencoder', datasetId: h.datasetId, preset: 'desktop', epochs: 1, overrides: tinyAe() });
    aeRunId = run.id;
    expect((await h.services.training.waitFor(run.id)).run.status).toBe('completed');
  }, 120_000);

  afterAll(() => {
    h.services.close();
    rmSync(h.home, { recursive: true, force: true });
  });

  it('times the LDM stage on its autoencoder parent', async () => {
    const e = await h.services.estimates.estimate({ stage: 'ldm', datasetId: h.datasetId, preset: 'desktop', parentRunId: aeRunId, overrides: [...TINY.common, ...TINY.ldm] });
    expect(e.secondsPerStep).toBeGreaterThan(0);
    expect(e.imageSize).toEqual([20, 28]);
    expect(e.adversarial).toBeNull();
    expect(e.stepsPerEpoch).toBe(1);
  });

  it('waits for the running job, and a newer estimate replaces one still queued', async () => {
    const { services: s, datasetId } = h;
    // A training run held before its first step keeps the compute lane busy.
    process.env.BRAINSYNTH_TEST_HOLD_AT_STEP = '0';
    const run = await s.training.start({ stage: 'autoencoder', datasetId, preset: 'desktop', epochs: 1, overrides: tinyAe() });
    delete process.env.BRAINSYNTH_TEST_HOLD_AT_STEP;
    await s.training.held(run.id);

    const queued = new Promise<Job>((resolve) => {
      const off = s.events.on('job.updated', (j) => {
        if (j.kind === 'estimate' && j.state === 'queued') {
          off();
          resolve(j);
        }
      });
    });
    const first = s.estimates.estimate({ stage: 'autoencoder', datasetId, preset: 'desktop', overrides: tinyAe() });
    const firstOutcome = first.then(
      () => 'answered',
      (err: Error) => err.message,
    );
    const firstJob = await queued;
    const second = s.estimates.estimate({ stage: 'autoencoder', datasetId, preset: 'desktop', overrides: tinyAe() });
    expect(await firstOutcome).toMatch(/estimate was cancelled/);
    expect(s.host.get(firstJob.jobId).state).toBe('cancelled');

    s.training.cancel(run.id);
    const e = await second;
    expect(e.secondsPerStep).toBeGreaterThan(0);
    expect((await s.training.waitFor(run.id)).run.status).toBe('cancelled');
  });
});

describe('step time at a batch too large to run here', () => {
  it('follows the line through two timed batches: a fixed part plus a part per slice', () => {
    // 1 s fixed + 0.5 s per slice.
    expect(extrapolateStepTime({ batch: 8, secondsPerStep: 5 }, { batch: 16, secondsPerStep: 9 }, 256)).toBeCloseTo(129);
  });

  it('scales the larger batch in proportion when timing noise makes the line fall', () => {
    expect(extrapolateStepTime({ batch: 8, secondsPerStep: 9.5 }, { batch: 16, secondsPerStep: 9 }, 256)).toBeCloseTo(144);
  });

  it('never gives a negative fixed part', () => {
    // The line (0.375 s per slice) would cross zero at batch 5.3: the fixed part is taken as 0.
    expect(extrapolateStepTime({ batch: 8, secondsPerStep: 1 }, { batch: 16, secondsPerStep: 4 }, 256)).toBeCloseTo(96);
  });
});

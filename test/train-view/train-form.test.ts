import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../src/backend';
import { parentCandidates, trainForm } from '../../src/backend/training/train-form';
import { makeHome, TINY } from '../jobs/helpers';

/** train.validate / train.parents: what the Train view's form shows, against a real tiny AE run. */
describe('Train view back end (train.validate, train.parents)', () => {
  let home: string;
  let s: Services;
  let datasetId: number;
  let aeRunId: number;

  beforeAll(async () => {
    ({ home, services: s, datasetId } = makeHome({ train: 4, validation: 2 }));
    const run = await s.training.start({
      stage: 'autoencoder',
      datasetId,
      preset: 'desktop',
      backend: 'wasm',
      epochs: 1,
      overrides: [...TINY.common, ...TINY.autoencoder, 'loop.maxStepsPerEpoch=1'],
    });
    aeRunId = run.id;
    const outcome = await s.training.waitFor(run.id);
    expect(outcome.run.status).toBe('completed');
  }, 120_000);

  afterAll(() => {
    s?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('answers the preset config, the reference values and no refusal for a startable request', async () => {
    const r = await trainForm(s, { stage: 'autoencoder', preset: 'desktop', datasetId });
    expect(r.error).toBeNull();
    expect(r.base).toMatchObject({ stage: 'autoencoder', preset: 'desktop', imageSize: [80, 112], autoencoder: { lr: 1e-3 } });
    expect(r.reference).toMatchObject({ preset: 'reference', imageSize: [160, 224], autoencoder: { lr: 1e-5 } });
    expect(r.config).toEqual(r.base);
  });

  it("gives jobs.start's reason, keeping the base config so the form can show the field to fix", async () => {
    const bad = await trainForm(s, { stage: 'autoencoder', preset: 'desktop', datasetId, overrides: ['loop.batchSize=0'] });
    expect(bad.error).toMatch(/^loop\.batchSize must be an integer >= 1, got 0/);
    expect(bad.base).not.toBeNull();
    const typo = await trainForm(s, { stage: 'autoencoder', preset: 'desktop', datasetId, overrides: ['loop.epoch=3'] });
    expect(typo.error).toMatch(/--set loop\.epoch: unknown config key/);
    expect(typo.base).not.toBeNull();
    expect(typo.config).toBeNull();
    await expect(s.training.start({ stage: 'autoencoder', preset: 'desktop', datasetId, overrides: ['loop.batchSize=0'] })).rejects.toThrow(bad.error!);
    expect((await trainForm(s, { stage: 'autoencoder', preset: 'desktop' })).error).toBe('choose a prepared dataset');
    expect((await trainForm(s, { stage: 'autoencoder', preset: 'desktop', datasetId: 999 })).error).toMatch(/unknown dataset 999/);
  });

  it('builds an LDM form from its parent: base from the parent, reference from the published chain', async () => {
    const r = await trainForm(s, { stage: 'ldm', preset: 'desktop', datasetId, parentRunId: aeRunId });
    // The desktop UNet cannot halve the tiny autoencoder's 5x7 latent: refused, but the base is there.
    expect(r.error).toMatch(/latent cannot be halved/);
    expect(r.base).toMatchObject({ stage: 'ldm', imageSize: [20, 28], ldm: { network: { in_channels: 2, out_channels: 2 } } });
    expect(r.reference).toMatchObject({ imageSize: [160, 224], ldm: { lr: 2.5e-5, network: { in_channels: 3, num_channels: [256, 512, 768] } } });
    // The few seconds the autoencoder trained leave nearly all of the 60-minute pipeline: the LDM's
    // default budget is its 15:40 share of that, and the form says why.
    const budget = (r.base as { loop: { budgetMinutes: number } }).loop.budgetMinutes;
    expect(budget).toBeGreaterThan(22);
    expect(budget).toBeLessThanOrEqual(22.5);
    expect(r.budgetNote).toBe(`${budget} min: the LDM's share (15 of 40) of the ${r.budgetNote!.match(/of the ([\d.]+) min/)![1]} min its autoencoder (run ${aeRunId}, ${r.budgetNote!.match(/, ([\d.]+) min\)/)![1]} min) left of the 60-minute desktop pipeline (less 15 s to finish)`);
    const ok = await trainForm(s, { stage: 'ldm', preset: 'desktop', datasetId, parentRunId: aeRunId, overrides: TINY.ldm });
    expect(ok.error).toBeNull();
    expect((await trainForm(s, { stage: 'autoencoder', preset: 'desktop', datasetId })).budgetNote ?? null).toBeNull();
    expect((await trainForm(s, { stage: 'ldm', preset: 'desktop', datasetId })).error).toMatch(/needs a parent autoencoder run/);
    expect((await trainForm(s, { stage: 'controlnet', preset: 'desktop', datasetId, parentRunId: aeRunId })).error).toMatch(/needs a ldm run/);
  });

  it('offers only finished runs of the required stage that have a checkpoint', () => {
    const noCheckpoint = s.runs.create({ stage: 'autoencoder', datasetId, config: {}, status: 'completed' });
    expect(parentCandidates(s, 'autoencoder')).toEqual({ needs: null, runs: [] });
    const ldm = parentCandidates(s, 'ldm', datasetId);
    expect(ldm.needs).toBe('autoencoder');
    expect(ldm.runs.map((r) => r.id)).toEqual([aeRunId]);
    expect(ldm.runs[0]).toMatchObject({ stage: 'autoencoder', status: 'completed', datasetId, imageSize: [20, 28] });
    expect(ldm.runs.some((r) => r.id === noCheckpoint.id)).toBe(false);
    expect(parentCandidates(s, 'controlnet')).toEqual({ needs: 'ldm', runs: [] });
  });
});

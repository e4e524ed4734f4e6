/**
 * generate.slice refuses a FLAIR slice without signal before any job starts (naming the subject,
 * z and the measured fraction), and generate.sliceSignal answers the same measure per slice for
 * the Generate view. A one-subject phantom and a tiny random ControlNet pipeline.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDispatch, createHandlers, type Dispatch } from '../../src/backend/api/handlers';
import { openBackend, type Services } from '../../src/backend';
import { createPhantomDataset } from '../../src/backend/data/datasets';
import { useTestBackend, writeTinyPipeline } from './fixtures';

let root: string;
let services: Services;
let dispatch: Dispatch;
let datasetId: number;
let runId: number;

beforeAll(async () => {
  await useTestBackend();
  root = mkdtempSync(join(tmpdir(), 'bs-signal-'));
  services = openBackend({ home: join(root, 'home') });
  const ds = await createPhantomDataset(services.store, services.home, { name: 'phantom', subjects: 1, seed: 3 });
  datasetId = ds.id;
  const ae = services.runs.create({ stage: 'autoencoder', datasetId, config: { stage: 'autoencoder' }, status: 'completed' });
  const ldm = services.runs.create({ stage: 'ldm', datasetId, config: { stage: 'ldm' }, status: 'completed', parents: [{ runId: ae.id, role: 'autoencoder' }] });
  const cn = services.runs.create({ stage: 'controlnet', datasetId, config: { stage: 'controlnet' }, status: 'completed', parents: [{ runId: ldm.id, role: 'ldm' }] });
  runId = cn.id;
  writeTinyPipeline({ autoencoder: services.home.runDir(ae.id), ldm: services.home.runDir(ldm.id), controlnet: services.home.runDir(cn.id) });
  dispatch = createDispatch(createHandlers({ services, host: 'test' }));
}, 120_000);

afterAll(async () => {
  if (services) {
    await services.sampling.host.close();
    services.close();
  }
  if (root) rmSync(root, { recursive: true, force: true });
});

function errorOf(reply: unknown): string {
  const r = reply as { ok: boolean; error?: { message: string } };
  expect(r.ok, JSON.stringify(r)).toBe(false);
  return r.error!.message;
}

describe('slices without signal', () => {
  it('generate.sliceSignal: per-slice fractions of the subject, with the level and the minimum', async () => {
    const reply = await dispatch('generate.sliceSignal', { runId, datasetId, subject: 'phantom01' });
    expect(reply.ok, JSON.stringify(reply)).toBe(true);
    const data = (reply as { data: { subject: string; fractions: number[]; level: number; minFraction: number } }).data;
    expect(data.subject).toBe('sub-phantom01');
    expect(data.fractions).toHaveLength(182);
    expect(data.fractions[5]).toBe(0);
    expect(data.fractions[89]).toBeGreaterThan(0.3);
    expect([data.level, data.minFraction]).toEqual([0.05, 0.01]);
  });

  it('generate.slice refuses an empty slice, naming the subject, z and the measured fraction, and queues no job', async () => {
    const before = services.sampling.host.list().length;
    const message = errorOf(await dispatch('generate.slice', { runId, datasetId, subject: 'phantom01', z: 5, steps: 1 }));
    expect(message).toMatch(/sub-phantom01 \(dataset "phantom"\) slice z=5 has almost no signal: 0\.00% of the 160x224 FLAIR slice lies above 5% of the brain intensity \(at least 1\.00% is needed\)/);
    expect(errorOf(await dispatch('generate.slice', { runId, datasetId, subject: 'phantom01', z: 500, steps: 1 }))).toMatch(/slice z=500: z is outside 0\.\.181/);
    expect(errorOf(await dispatch('generate.slice', { runId, flair: new Array(160 * 224).fill(0), steps: 1 }))).toMatch(/the given FLAIR slice has almost no signal: 0\.00%/);
    expect(services.sampling.host.list()).toHaveLength(before);
  });

  it('generate.slice accepts a mid-brain slice and samples it', async () => {
    const reply = await dispatch('generate.slice', { runId, datasetId, subject: 'phantom01', z: 89, steps: 1, backend: 'wasm' });
    expect(reply.ok, JSON.stringify(reply)).toBe(true);
    const job = await services.sampling.host.wait((reply as { data: { jobId: string } }).data.jobId);
    expect(job.error).toBeNull();
    expect(job.state).toBe('completed');
  }, 120_000);
});

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../../src/backend/bridge/server';
import { createDispatch, createHandlers } from '../../src/backend/api/handlers';
import type { DataJob, DatasetDetail, Envelope, Job } from '../../src/shared/contract';
import { volumeResponse } from '../../src/backend/data/volume-files';
import { fromStoredPath } from '../../src/backend/home-paths';
import { tempServices } from '../store/helpers';

/**
 * Dataset jobs through the real contract (dispatch) and the real worker thread: a 1-subject
 * phantom, reference slice preparation, a refused import, and the volume bytes the NiiVue
 * viewers load from the bridge.
 */
let services: ReturnType<typeof tempServices>;
let bridge: Bridge;
let dispatch: ReturnType<typeof createDispatch>;
const events: DataJob[] = [];
const jobUpdates: Job[] = [];
const updated: number[] = [];

async function call<T>(channel: string, payload: unknown): Promise<T> {
  const env = (await dispatch(channel, payload)) as Envelope<T>;
  if (!env.ok) throw new Error(`${env.error.code}: ${env.error.message}`);
  return env.data;
}

async function failure(channel: string, payload: unknown): Promise<{ code: string; message: string }> {
  const env = await dispatch(channel, payload);
  if (env.ok) throw new Error(`${channel} unexpectedly succeeded`);
  return env.error;
}

function http(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; type: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: bridge.port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), type: res.headers['content-type'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  services = tempServices();
  dispatch = createDispatch(createHandlers({ services, host: 'bridge' }), () => undefined);
  services.events.on('data.job', (j) => events.push(j));
  services.events.on('job.updated', (j) => jobUpdates.push(j));
  services.events.on('dataset.updated', (e) => updated.push(e.datasetId));
  bridge = await startBridge({ services, port: 0, rendererDir: null, token: 'test-token' });
});

afterAll(async () => {
  await bridge?.close();
  services?.cleanup();
});

describe('dataset jobs', () => {
  let datasetId: number;

  it('refuses requests that cannot succeed before queuing anything', async () => {
    const missing = join(services.home.root, 'nope');
    expect(await failure('datasets.import', { dir: missing, name: 'x' })).toMatchObject({ code: 'invalid_request', message: expect.stringContaining(`${missing}: folder not found`) });
    const file = join(services.home.root, 'file.txt');
    writeFileSync(file, 'x');
    expect((await failure('datasets.import', { dir: file, name: 'x' })).message).toContain('not a folder');
    expect(await failure('datasets.prepare', { id: 999 })).toMatchObject({ code: 'not_found' });
    expect((await failure('datasets.phantom', { subjects: 1, name: '../evil' })).message).toContain('dataset name');
    expect(await call<{ jobs: DataJob[] }>('datasets.jobs', {})).toEqual({ jobs: [] });
    expect(events).toEqual([]);
  });

  it('generates a phantom in a worker thread with progress events, then refuses its name', async () => {
    const job = await call<DataJob>('datasets.phantom', { subjects: 1, name: 'ph', seed: 5 });
    expect(job).toMatchObject({ kind: 'phantom', datasetId: null });
    expect(['queued', 'running']).toContain(job.state); // an idle queue starts it at once
    const done = await services.dataJobs.wait(job.jobId);
    expect(done.error).toBeNull();
    expect(done.state).toBe('completed');
    datasetId = done.datasetId!;
    const states = events.filter((e) => e.jobId === job.jobId).map((e) => e.state);
    expect(states[0]).toBe('queued');
    expect(states).toContain('running');
    expect(states.at(-1)).toBe('completed');
    expect(events.some((e) => e.jobId === job.jobId && e.phase === 'generating subjects')).toBe(true);
    // The one job event (which the Data view follows) says the same, ending with the new dataset.
    const followed = jobUpdates.filter((j) => j.jobId === job.jobId);
    expect(followed.some((j) => j.kind === 'phantom' && j.phase === 'generating subjects')).toBe(true);
    expect(followed.at(-1)).toMatchObject({ state: 'completed', datasetId });
    expect(updated).toContain(datasetId);
    expect((await failure('datasets.phantom', { subjects: 1, name: 'ph' })).code).toBe('conflict');

    const detail = await call<DatasetDetail>('datasets.detail', { id: datasetId });
    expect(detail).toMatchObject({ name: 'ph', synthetic: true, kind: 'phantom', subjectCount: 1, prepared: null });
    expect(detail.subjects[0]!.preparedZs).toBeNull();
    expect(detail.subjects[0]!.volumes.map((v) => v.modality).sort()).toEqual(['FLAIR', 'T1w', 'lesion_mask']);
    const flair = detail.subjects[0]!.volumes.find((v) => v.modality === 'FLAIR')!;
    expect(flair.dims).toEqual([182, 218, 182]);
    expect(flair.fileName).toMatch(/_FLAIR\.nii\.gz$/);
    expect(JSON.stringify(detail)).not.toContain(services.home.root); // paths stay in main
  }, 120_000);

  it('prepares reference slices and reports which z are prepared, in which split', async () => {
    const job = await call<DataJob>('datasets.prepare', { id: datasetId, slices: 'reference', fractions: [0, 0, 1], seed: 1 });
    const done = await services.dataJobs.wait(job.jobId);
    expect(done).toMatchObject({ state: 'completed', datasetId, error: null });
    const detail = await call<DatasetDetail>('datasets.detail', { id: datasetId });
    // reference = 5 adjacent central slices: floor(182/2)-2 .. +2
    expect(detail.subjects[0]).toMatchObject({ split: 'test', preparedZs: [89, 90, 91, 92, 93] });
    expect(detail.prepared).toMatchObject({ slices: 'reference', counts: { train: 0, validation: 0, test: 5 } });
    expect((await failure('datasets.prepare', { id: datasetId, slices: 'middle' })).message).toContain('slices middle');
  }, 120_000);

  it('fails an import of an empty folder with the reason and stores nothing', async () => {
    const empty = join(services.home.root, 'empty');
    mkdirSync(empty);
    const job = await call<DataJob>('datasets.import', { dir: empty, name: 'empty' });
    const done = await services.dataJobs.wait(job.jobId);
    expect(done.state).toBe('failed');
    expect(done.error).toContain('nothing was stored');
    expect(services.datasets.list().map((d) => d.name)).toEqual(['ph']);
  }, 60_000);

  it('serves volume bytes to the viewers only with the token, by id', async () => {
    const detail = await call<DatasetDetail>('datasets.detail', { id: datasetId });
    const flair = detail.subjects[0]!.volumes.find((v) => v.modality === 'FLAIR')!;
    const src = await call<{ url: string; fileName: string; needsToken: boolean }>('datasets.volumeUrl', { volumeId: flair.id });
    expect(src).toEqual({ url: `/volumes/${flair.id}/${encodeURIComponent(flair.fileName)}`, fileName: flair.fileName, needsToken: true });

    expect((await http(src.url)).status).toBe(401);
    expect((await http(src.url, { Authorization: 'Bearer wrong' })).status).toBe(401);
    const ok = await http(src.url, { Authorization: 'Bearer test-token' });
    expect(ok.status).toBe(200);
    expect(ok.type).toBe('application/gzip');
    const path = services.store.db.prepare('SELECT path FROM volumes WHERE id = ?').get(flair.id) as { path: string };
    expect(ok.body.equals(readFileSync(fromStoredPath(services.home.root, path.path)))).toBe(true);
    expect((await http(`${src.url}?token=test-token`)).status).toBe(200);
    expect((await http('/volumes/99999/x.nii.gz?token=test-token')).status).toBe(404);
    expect((await http('/volumes/..%2F..%2Fbrainsynth.db?token=test-token')).status).toBe(404);
    expect((await failure('datasets.volumeUrl', { volumeId: 99999 })).code).toBe('not_found');

    // Electron's app:// handler answers with the same bytes, streamed.
    const res = await volumeResponse(services.store.db, src.url, { 'X-Test': '1' });
    expect(res.status).toBe(200);
    expect(res.headers.get('X-Test')).toBe('1');
    expect(Buffer.from(await res.arrayBuffer()).equals(ok.body)).toBe(true);
    expect((await volumeResponse(services.store.db, '/volumes/99999/x.nii', {})).status).toBe(404);
    expect((await volumeResponse(services.store.db, '/volumes/1/../../etc/passwd', {})).status).toBe(404);

    const electron = createDispatch(createHandlers({ services, host: 'electron' }));
    const env = await electron('datasets.volumeUrl', { volumeId: flair.id });
    expect(env.ok && env.data).toMatchObject({ url: `app://brainsynth/volumes/${flair.id}/${encodeURIComponent(flair.fileName)}`, needsToken: false });
  });
});

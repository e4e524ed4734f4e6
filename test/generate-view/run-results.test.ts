/**
 * What the run page lists of a ControlNet run's results: a translated volume records the dataset
 * subject its FLAIR belongs to and the sampling settings it was made with; saved Generate panels
 * record theirs; both mark the run updated (an event here, a newer updated_at for other
 * processes) so open pages pick them up. Tiny random pipeline, a 5-slice FLAIR with 2 slices of signal.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBackend, type Services } from '../../src/backend';
import { writeNifti } from '../../src/ml/data/nifti';
import { writeTinyPipeline } from '../sample/fixtures';

let root: string;
let services: Services;
let controlnetRunId: number;
let flairPath: string;
let datasetId: number;

const dims: [number, number, number] = [170, 200, 5];
const lasAffine = [
  [-1, 0, 0, 84],
  [0, 1, 0, -100],
  [0, 0, 1, -2],
  [0, 0, 0, 1],
];

function flairWithTwoSlices(): Float32Array {
  const [nx, ny, nz] = dims;
  const data = new Float32Array(nx * ny * nz);
  for (const z of [1, 3])
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++) {
        const dx = (x - 85) / 60;
        const dy = (y - 100) / 80;
        if (dx * dx + dy * dy < 1) data[x + nx * (y + ny * z)] = 200 + 100 * Math.sin(x / 7) * Math.cos(y / 9);
      }
  return data;
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'bs-run-results-'));
  services = openBackend({ home: join(root, 'home') });
  flairPath = join(root, 'sub-07_FLAIR.nii.gz');
  writeNifti(flairPath, { dims, data: flairWithTwoSlices() }, lasAffine, { qformCode: 1, sformCode: 4 });
  // The FLAIR as a dataset subject's volume (rows only: translation reads the file by its path).
  const db = services.store.db;
  datasetId = Number(db.prepare("INSERT INTO datasets (name, kind) VALUES ('small', 'imported')").run().lastInsertRowid);
  const subjectId = Number(db.prepare("INSERT INTO subjects (dataset_id, label) VALUES (?, 'sub-07')").run(datasetId).lastInsertRowid);
  db.prepare("INSERT INTO volumes (subject_id, modality, path, dims, pixdim, affine) VALUES (?, 'FLAIR', ?, ?, '[1,1,1]', ?)").run(
    subjectId,
    flairPath,
    JSON.stringify(dims),
    JSON.stringify(lasAffine),
  );
  const ae = services.runs.create({ stage: 'autoencoder', config: { stage: 'autoencoder' }, status: 'completed' });
  const ldm = services.runs.create({ stage: 'ldm', config: { stage: 'ldm' }, status: 'completed', parents: [{ runId: ae.id, role: 'autoencoder' }] });
  const cn = services.runs.create({ stage: 'controlnet', config: { stage: 'controlnet' }, status: 'completed', parents: [{ runId: ldm.id, role: 'ldm' }] });
  controlnetRunId = cn.id;
  writeTinyPipeline({ autoencoder: services.home.runDir(ae.id), ldm: services.home.runDir(ldm.id), controlnet: services.home.runDir(cn.id) });
});

afterAll(async () => {
  if (services) {
    await services.sampling.host.close();
    services.close();
  }
  if (root) rmSync(root, { recursive: true, force: true });
});

function runUpdates(): number[] {
  const seen: number[] = [];
  services.events.on('run.updated', (e) => seen.push(e.run.id));
  return seen;
}

describe('run results', () => {
  it('a translated volume names its dataset subject and its sampling settings, and marks the run updated', async () => {
    const { generate, host } = services.sampling;
    const before = services.runs.get(controlnetRunId).updatedAt;
    const seen = runUpdates();
    const { jobId } = generate.volume({ runId: controlnetRunId, flairPath, steps: 2, seed: 1, backend: 'wasm' });
    const job = await host.wait(jobId);
    expect(job.error).toBeNull();
    const [volume] = services.artefacts.list({ runId: controlnetRunId, kind: 'volume' });
    expect(volume!.meta).toMatchObject({
      source: flairPath,
      datasetId,
      subject: 'sub-07',
      steps: 2,
      sampler: 'ddim',
      // Not given: the run's own guidance and conditioning scales (the tiny pipeline's 7 and 1).
      guidanceScale: 7,
      conditioningScale: 1,
      seed: 1,
      sampledSlices: 2,
    });
    expect(generate.result(jobId).volume!.artefactId).toBe(volume!.id);
    expect(seen).toContain(controlnetRunId);
    expect(services.runs.get(controlnetRunId).updatedAt >= before).toBe(true);
  });

  it('saved Generate panels record the steps and guidance they were made with', async () => {
    const { generate, host } = services.sampling;
    const flair = Array.from({ length: 160 * 224 }, (_, i) => ((i % 224) / 224) * 0.8);
    const { jobId } = await generate.slice({ runId: controlnetRunId, flair, samples: 1, steps: 2, seed: 4, guidanceScale: 3, backend: 'wasm' });
    expect((await host.wait(jobId)).error).toBeNull();
    const seen = runUpdates();
    const saved = generate.save(jobId);
    expect(saved.length).toBeGreaterThan(1);
    for (const a of saved) expect(a.meta).toMatchObject({ jobId, source: 'generate', steps: 2, sampler: 'ddim', guidanceScale: 3, seeds: [4] });
    // A slice given as pixels has no subject to name.
    expect(saved[0]!.meta.subject).toBeUndefined();
    expect(seen).toEqual([controlnetRunId]);
  });
});

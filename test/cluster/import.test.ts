import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ClusterFollower } from '../../src/backend/cluster/follow';
import { importClusterRun } from '../../src/backend/cluster/import';
import { initEngine } from '../../src/ml/engine';
import type { StateDict } from '../../src/ml/io';
import { AutoencoderKL, type AutoencoderKLConfig } from '../../src/ml/networks/autoencoder-kl';
import { loadCheckpoint, checkpointDir } from '../../src/ml/pipeline/checkpoint';
import type { Services } from '../../src/backend';
import { makeHome } from '../jobs/helpers';
import { appendMetrics, fakeJob, writeClusterCheckpoint, writeStatus } from './fake-job';

/** Import of a job folder: refusals that write nothing, idempotence, partial lines, following. */

let model: StateDict;
beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
  const m = fakeJob(mkdtempSync(join(tmpdir(), 'bs-cluster-cfg-')), { id: 1, name: 'x' });
  const net = new AutoencoderKL((m.config as unknown as { autoencoder: { network: AutoencoderKLConfig } }).autoencoder.network).initialize(3);
  model = await net.stateDict();
  net.dispose();
});

let services: Services;
let home: string;
let job: string;
let datasetId: number;

beforeEach(() => {
  ({ services, home, datasetId } = makeHome({ train: 2, validation: 1 }));
  job = join(home, 'job');
  mkdirSync(job);
});

afterEach(() => {
  services.close();
  rmSync(home, { recursive: true, force: true });
});

const runCount = () => services.runs.list().total;
const pointCount = (id: number) => (services.metrics.summaries([id]).get(id) ?? []).reduce((n, s) => n + s.count, 0);

describe('cluster import', () => {
  it('refuses a folder without job.json, and a foreign job.json, writing nothing', () => {
    expect(() => importClusterRun(services, join(home, 'nowhere'))).toThrow(/no such folder/);
    expect(() => importClusterRun(services, job)).toThrow(/not a brainsynth cluster job folder \(no job\.json/);
    writeFileSync(join(job, 'job.json'), JSON.stringify({ format: 'some-other-tool', version: 3 }));
    expect(() => importClusterRun(services, job)).toThrow(/job\.json: not a brainsynth cluster job \(format is "some-other-tool"/);
    writeFileSync(join(job, 'job.json'), '{"format": "brainsynth-cluster-job", "version": 1}');
    expect(() => importClusterRun(services, job)).toThrow(/job\.json: damaged cluster job manifest \(jobId/);
    expect(runCount()).toBe(0);
  });

  it('refuses a damaged metrics line or checkpoint, naming the file, and writes nothing', () => {
    const m = fakeJob(job, { id: datasetId, name: 'synthetic' });
    writeStatus(job, m, 'completed', 3);
    appendMetrics(job, 1, 3, '{"step": 4, "split": "train", "name": "loss", "value": 1}\nnot json\n');
    expect(() => importClusterRun(services, job)).toThrow(/metrics\.jsonl:8: not a JSON metrics record/);
    expect(runCount()).toBe(0);

    writeFileSync(join(job, 'output', 'metrics.jsonl'), '');
    appendMetrics(job, 1, 3);
    const ck = writeClusterCheckpoint(job, 3, model);
    const bytes = readFileSync(join(ck, 'model.safetensors'));
    bytes[bytes.length - 1] ^= 0xff;
    writeFileSync(join(ck, 'model.safetensors'), bytes);
    expect(() => importClusterRun(services, job)).toThrow(/model\.safetensors: checksum mismatch/);
    expect(runCount()).toBe(0);

    writeStatus(job, { ...m, jobId: 'another-job-0000' }, 'completed', 3);
    expect(() => importClusterRun(services, job)).toThrow(/status\.json: belongs to job another-job-0000/);
    expect(runCount()).toBe(0);
  });

  it('registers the run with lineage, metrics and a loadable checkpoint; importing again changes nothing', () => {
    const m = fakeJob(job, { id: datasetId, name: 'synthetic' });
    writeStatus(job, m, 'completed', 3);
    appendMetrics(job, 1, 3);
    writeClusterCheckpoint(job, 3, model);
    const first = importClusterRun(services, job);
    expect(first).toMatchObject({ created: true, metrics: 6, checkpointStep: 3, jobState: 'completed' });
    expect(first.run).toMatchObject({ stage: 'autoencoder', status: 'completed', datasetId, backend: 'cluster: torchrun 2 procs gloo on node7 (cpu)' });
    expect(first.run.startedAt).toBe('2026-01-01T10:00:00.000Z');
    expect(first.run.finishedAt).toBe('2026-01-01T10:05:00.000Z');
    expect((first.run.config as { cluster?: { jobId: string } }).cluster?.jobId).toBe(m.jobId);
    const dir = checkpointDir(services.home.runDir(first.run.id), 'last');
    const loaded = loadCheckpoint(dir!);
    expect(loaded.meta).toMatchObject({ stage: 'autoencoder', step: 3 });
    expect([...loaded.model.keys()].sort()).toEqual([...model.keys()].sort());
    expect(services.checkpoints.latest(first.run.id, 'last')?.step).toBe(3);

    const again = importClusterRun(services, job);
    expect(again).toMatchObject({ created: false, checkpointStep: null });
    expect(again.run.id).toBe(first.run.id);
    expect(runCount()).toBe(1);
    expect(pointCount(first.run.id)).toBe(6);
    expect(services.checkpoints.list(first.run.id)).toHaveLength(1);
  });

  it('skips an unterminated last line and leaves an unfinished job paused until imported again', () => {
    const m = fakeJob(job, { id: datasetId, name: 'synthetic' });
    writeStatus(job, m, 'running', 2);
    appendMetrics(job, 1, 2, '{"step": 3, "epoch": 0, "split": "tr');
    const r = importClusterRun(services, job);
    expect(r.metrics).toBe(4);
    expect(r.run.status).toBe('cancelled');
    expect(r.run.error).toMatch(/still running on the cluster when imported \(step 2\)/);
    expect(existsSync(join(services.home.runDir(r.run.id), 'checkpoints'))).toBe(false);
    // Its optimiser state is on the cluster: resuming here is refused with where to continue it.
    expect(() => services.training.resume(r.run.id)).toThrow(/was trained on a cluster; continue it there \(.*job\/launch\.sh --resume\)/);

    writeFileSync(join(job, 'output', 'metrics.jsonl'), '');
    appendMetrics(job, 1, 5);
    writeClusterCheckpoint(job, 5, model);
    writeStatus(job, m, 'completed', 5);
    const done = importClusterRun(services, job);
    expect(done.run).toMatchObject({ id: r.run.id, status: 'completed', error: null });
    expect(pointCount(r.run.id)).toBe(10);
  });

  it('follows a running job until it completes, holding the run as running meanwhile', async () => {
    const m = fakeJob(job, { id: datasetId, name: 'synthetic' });
    writeStatus(job, m, 'running', 1);
    appendMetrics(job, 1, 1);
    const seen: string[] = [];
    let wrote = false;
    const follower = new ClusterFollower(services, job, {
      pollMs: 20,
      onUpdate: (r) => {
        seen.push(`${r.run.status}:${r.metrics}`);
        // The job moves on after the follower has seen its first state.
        if (!wrote) {
          wrote = true;
          expect(r.run.status).toBe('running');
          expect(existsSync(join(services.home.runDir(r.run.id), 'job.json'))).toBe(false);
          appendMetrics(job, 2, 4);
          writeClusterCheckpoint(job, 4, model);
          writeStatus(job, m, 'completed', 4);
        }
      },
    });
    const first = follower.start();
    expect(first.run.status).toBe('running');
    expect(existsSync(join(services.home.runDir(first.run.id), 'job.json'))).toBe(true);
    const end = await follower.done;
    if (end instanceof Error) throw end;
    expect(end.run.status).toBe('completed');
    expect(end.checkpointStep).toBe(4);
    expect(seen).toEqual(['running:2', 'completed:8']);
    expect(existsSync(join(services.home.runDir(first.run.id), 'job.json'))).toBe(false);
  });

  it('keeps following through a failed poll (a damaged line that the job then rewrites)', async () => {
    const m = fakeJob(job, { id: datasetId, name: 'synthetic' });
    writeStatus(job, m, 'running', 1);
    appendMetrics(job, 1, 1);
    const retries: string[] = [];
    const follower = new ClusterFollower(services, job, {
      pollMs: 20,
      onUpdate: (r) => {
        if (r.jobState === 'running') appendMetrics(job, 2, 2, 'garbage\n');
      },
      onRetry: (err, n) => {
        retries.push(`${n}: ${err.message.replace(/^.*metrics\.jsonl/, 'metrics.jsonl')}`);
        writeFileSync(join(job, 'output', 'metrics.jsonl'), '');
        appendMetrics(job, 1, 3);
        writeStatus(job, m, 'completed', 3);
      },
    });
    follower.start();
    const end = await follower.done;
    if (end instanceof Error) throw end;
    expect(retries).toEqual(['1: metrics.jsonl:5: not a JSON metrics record (the file is damaged)']);
    expect(end.run.status).toBe('completed');
    expect(pointCount(end.run.id)).toBe(6);
  });

  it('stops following when the run is cancelled (the Cancel of the app or CLI)', async () => {
    const m = fakeJob(job, { id: datasetId, name: 'synthetic' });
    writeStatus(job, m, 'running', 1);
    appendMetrics(job, 1, 1);
    const follower = new ClusterFollower(services, job, { pollMs: 20, onUpdate: (r) => void services.training.cancel(r.run.id) });
    follower.start();
    const end = await follower.done;
    if (end instanceof Error) throw end;
    expect(end.run.status).toBe('cancelled');
    expect(existsSync(join(services.home.runDir(end.run.id), 'job.json'))).toBe(false);
    // Importing again picks the run up where it is (still running on the cluster: paused here).
    expect(importClusterRun(services, job).run).toMatchObject({ id: end.run.id, status: 'cancelled' });
  });
});

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportClusterJob } from '../../src/backend/cluster/export';
import { importClusterRun } from '../../src/backend/cluster/import';
import { initEngine } from '../../src/ml/engine';
import { readSafetensors } from '../../src/ml/io';
import { AutoencoderKL, type AutoencoderKLConfig } from '../../src/ml/networks/autoencoder-kl';
import type { TrainConfig } from '../../src/ml/train/config';
import { relativeL2 } from '../../src/ml/util/relative-l2';
import { openBackend, type Services } from '../../src/backend';
import { createPhantomDataset, prepareDataset } from '../../src/backend/data/datasets';
import { PYTHON, torchSkipReason, unpackMonai } from './torch-env';

/**
 * The real round trip: export the phantom's autoencoder stage, train it with torchrun on 2 CPU
 * processes (gloo) with MONAI Generative networks, import it, check the run, its metrics and
 * checkpoint, load the weights into the project's AutoencoderKL and reconstruct like PyTorch does
 * on the same weights; then export an LDM with the imported run as parent and train it from it.
 */
const title = `cluster round trip (torchrun + MONAI)${torchSkipReason ? ` - SKIPPED: ${torchSkipReason}` : ''}`;
if (torchSkipReason) console.warn(`test/cluster/roundtrip: skipped because ${torchSkipReason}`);

describe.skipIf(torchSkipReason !== null)(title, () => {
  let root: string;
  let services: Services;
  let monai: string;
  let datasetId: number;

  const launch = (job: string, steps: number) => {
    const r = spawnSync(join(job, 'launch.sh'), ['--max-steps', String(steps), '--threads', '1'], {
      encoding: 'utf8',
      env: { ...process.env, PYTHON, PYTHONPATH: monai, NPROC_PER_NODE: '2' },
      timeout: 600_000,
    });
    if (r.status !== 0) throw new Error(`launch.sh failed (${r.status}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
    return r;
  };

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'bs-cluster-rt-'));
    services = openBackend({ home: join(root, 'home') });
    monai = unpackMonai();
    const d = await createPhantomDataset(services.store, services.home, { name: 'phantom', subjects: 3, seed: 0 });
    datasetId = d.id;
    await prepareDataset(services.store, services.home, d.id, { slices: '80:84', fractions: [0.34, 0.33, 0.33], seed: 0 });
  }, 300_000);

  afterAll(() => {
    services?.close();
    if (root) rmSync(root, { recursive: true, force: true });
    if (monai) rmSync(monai, { recursive: true, force: true });
  });

  it('exports, trains with torchrun (2 gloo processes), imports, and matches PyTorch reconstruction; an LDM then trains from it', async () => {
    const aeJob = join(root, 'job-ae');
    const exported = await exportClusterJob(services, {
      stage: 'autoencoder',
      dataset: datasetId,
      preset: 'desktop',
      overrides: ['loop.batchSize=2', 'loop.epochs=2'],
      outDir: aeJob,
    });
    for (const f of ['job.json', 'train.py', 'launch.sh', 'slurm.sbatch', 'README.md', 'data/train.tsv', 'data/validation.tsv', 'data/test.tsv']) {
      expect(exported.files).toContain(f);
    }
    expect(exported.files.filter((f) => f.endsWith('.png'))).toHaveLength(24);

    const out = launch(aeJob, 3);
    expect(out.stdout).toContain('on 2 process(es)');
    const status = JSON.parse(readFileSync(join(aeJob, 'output/status.json'), 'utf8')) as { state: string; worldSize: number; backend: string };
    expect(status).toMatchObject({ state: 'completed', worldSize: 2, backend: 'gloo' });

    const imported = importClusterRun(services, aeJob);
    expect(imported.created).toBe(true);
    expect(imported.run.status).toBe('completed');
    expect(imported.run.backend).toMatch(/torchrun 2 procs gloo/);
    const runId = imported.run.id;
    expect(services.runs.list().runs.map((r) => r.id)).toContain(runId);
    const series = services.metrics.summaries([runId]).get(runId) ?? [];
    expect(series.map((s) => `${s.split}/${s.name}`)).toEqual(expect.arrayContaining(['train/l1_loss', 'train/kl_loss', 'validation/l1_loss']));
    const ckpt = services.checkpoints.latest(runId, 'last');
    expect(ckpt?.step).toBe(2);
    // Idempotent: a second import adds no run, no checkpoint and no metric point.
    const checkpointsBefore = services.checkpoints.list(runId).length;
    const pointsBefore = series.reduce((n, s) => n + s.count, 0);
    const again = importClusterRun(services, aeJob);
    expect(again.created).toBe(false);
    expect(again.run.id).toBe(runId);
    expect(services.runs.list().total).toBe(1);
    expect(services.checkpoints.list(runId)).toHaveLength(checkpointsBefore);
    expect((services.metrics.summaries([runId]).get(runId) ?? []).reduce((n, s) => n + s.count, 0)).toBe(pointsBefore);

    // PyTorch's reconstruction (decode(mu)) of the first training slice on the cluster checkpoint.
    const probe = join(root, 'probe');
    const py = `
import sys, json, numpy as np, torch, torch.nn.functional as F
sys.path.insert(0, ${JSON.stringify(aeJob)})
import train
from generative.networks.nets import AutoencoderKL
job = json.load(open(${JSON.stringify(join(aeJob, 'job.json'))}))
cfg = job["config"]
ck = json.load(open(${JSON.stringify(join(aeJob, 'output/checkpoints/last.json'))}))["dir"]
ae = AutoencoderKL(**cfg["autoencoder"]["network"]).eval()
ae.load_state_dict(train.load_safetensors(${JSON.stringify(join(aeJob, 'output/checkpoints'))} + "/" + ck + "/model.safetensors"))
data = train.load_split(${JSON.stringify(aeJob)}, "train", job["data"]["exportRoot"])
x, _ = train.to_float(data[:1], tuple(cfg["imageSize"]), torch.device("cpu"))
with torch.no_grad():
    y = ae.reconstruct(x)
x.numpy().astype("<f4").tofile(${JSON.stringify(probe)} + ".in")
y.numpy().astype("<f4").tofile(${JSON.stringify(probe)} + ".out")
print(list(x.shape))
`;
    const r = spawnSync(PYTHON, ['-c', py], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: monai } });
    if (r.status !== 0) throw new Error(r.stderr);
    expect(r.stdout.trim()).toBe('[1, 1, 80, 112]');
    const asF32 = (p: string) => {
      const b = readFileSync(p);
      return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    };
    const input = asF32(`${probe}.in`);
    const torchOut = asF32(`${probe}.out`);

    await initEngine({ backend: 'cpu' });
    const config = imported.run.config as unknown as TrainConfig;
    const ae = new AutoencoderKL(config.autoencoder!.network as unknown as AutoencoderKLConfig);
    ae.loadStateDict(readSafetensors(ckpt!.path).tensors, { source: ckpt!.path });
    // One channel: NCHW [1,1,H,W] and NHWC [1,H,W,1] share the memory order.
    const x = tf.tensor4d(input, [1, 80, 112, 1]);
    const y = ae.reconstruct(x);
    const ours = (await y.data()) as Float32Array;
    [x, y].forEach((t) => t.dispose());
    ae.dispose();
    const err = relativeL2(ours, torchOut);
    console.info(`imported AutoencoderKL vs PyTorch reconstruction: relative L2 ${err.toExponential(3)}`);
    expect(err).toBeLessThan(1e-4);

    // The next stage on the cluster, with the imported run as its parent.
    const ldmJob = join(root, 'job-ldm');
    const ldm = await exportClusterJob(services, {
      stage: 'ldm',
      dataset: datasetId,
      preset: 'desktop',
      parentRunId: runId,
      overrides: ['loop.batchSize=2', 'loop.epochs=1'],
      outDir: ldmJob,
    });
    expect(ldm.manifest.parent).toMatchObject({ runId, stage: 'autoencoder' });
    const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
    expect(sha(join(ldmJob, 'parents/autoencoder/model.safetensors'))).toBe(ckpt!.sha256);
    launch(ldmJob, 2);
    const ldmRun = importClusterRun(services, ldmJob);
    expect(ldmRun.run).toMatchObject({ stage: 'ldm', status: 'completed', parents: [{ runId, role: 'autoencoder' }] });
    const ldmCkpt = services.checkpoints.latest(ldmRun.run.id, 'last');
    expect(ldmCkpt).toBeDefined();
    expect(existsSync(join(ldmCkpt!.path, '../context.safetensors'))).toBe(true);
    const losses = services.metrics.summaries([ldmRun.run.id]).get(ldmRun.run.id) ?? [];
    const trainLoss = losses.find((s) => s.name === 'loss' && s.split === 'train');
    expect(Number.isFinite(trainLoss?.last.value)).toBe(true);
  }, 900_000);
});

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterConfigProblem, exportClusterJob } from '../../src/backend/cluster/export';
import { applyOverrides, defaultLoop, defaultStageConfig, type TrainConfig } from '../../src/ml/train/config';
import { networkPresets } from '../../src/ml/train/presets';
import type { TrainStage } from '../../src/ml/train/session';
import { readManifest } from '../../src/backend/cluster/manifest';
import { openBackend, type Services } from '../../src/backend';
import { createPhantomDataset, prepareDataset } from '../../src/backend/data/datasets';

/** The job folder needs no torch: what it contains, and what export refuses (leaving nothing behind). */
describe('cluster export', () => {
  let root: string;
  let services: Services;
  let datasetId: number;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'bs-cluster-export-'));
    services = openBackend({ home: join(root, 'home') });
    const d = await createPhantomDataset(services.store, services.home, { name: 'phantom', subjects: 3, seed: 1 });
    datasetId = d.id;
    await prepareDataset(services.store, services.home, d.id, { slices: '80:82', fractions: [0.34, 0.33, 0.33], seed: 0 });
  }, 300_000);

  afterAll(() => {
    services?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('writes slices, config, scripts and README into a new folder, TSVs pointing inside it', async () => {
    const out = join(root, 'jobs', 'ae');
    const r = await exportClusterJob(services, { stage: 'autoencoder', dataset: 'phantom', preset: 'reference', overrides: ['loop.epochs=3'], outDir: out });
    expect(r.dir).toBe(out);
    expect(r.files.filter((f) => !f.endsWith('.png'))).toEqual(['README.md', 'data/test.tsv', 'data/train.tsv', 'data/validation.tsv', 'job.json', 'launch.sh', 'slurm.sbatch', 'train.py']);
    expect(r.files.filter((f) => f.endsWith('.png'))).toHaveLength(12);
    const m = readManifest(out);
    expect(m).toMatchObject({ stage: 'autoencoder', preset: 'reference', dataset: { id: datasetId, name: 'phantom' }, parent: null });
    // The same config object a local run stores: reference shapes, the override, perceptual choice recorded.
    const cfg = m.config as unknown as { imageSize: number[]; loop: { epochs: number }; autoencoder: { network: { num_channels: number[] }; perceptual: { name: null } } };
    expect(cfg.imageSize).toEqual([160, 224]);
    expect(cfg.loop.epochs).toBe(3);
    expect(cfg.autoencoder.network.num_channels).toEqual([128, 256, 256, 512]);
    expect(cfg.autoencoder.perceptual.name).toBeNull();
    const rows = readFileSync(join(out, 'data', 'train.tsv'), 'utf8').trim().split('\n');
    expect(rows[0]).toBe('t1w\tflair');
    for (const row of rows.slice(1)) for (const p of row.split('\t')) expect(existsSync(p) && p.startsWith(join(out, 'data'))).toBe(true);
    expect(statSync(join(out, 'launch.sh')).mode & 0o111).not.toBe(0);
    expect(r.commands.cpu).toBe(`NPROC_PER_NODE=2 ${join(out, 'launch.sh')} --max-steps 5`);
    // No staging folder is left next to the job.
    expect(readdirSync(dirname(out)).filter((f) => f.includes('partial'))).toEqual([]);
  }, 120_000);

  it('refuses a setting the cluster script does not implement (a weight average), naming it', () => {
    const config = (stage: TrainStage): TrainConfig => ({
      stage,
      preset: 'desktop',
      imageSize: [80, 112],
      augment: 'reference',
      loop: defaultLoop(stage, 'desktop'),
      ...defaultStageConfig(stage, 'desktop', networkPresets('desktop')),
    });
    const cn = config('controlnet');
    expect(clusterConfigProblem(cn)).toBeNull();
    cn.controlnet!.emaDecay = 0.999;
    expect(clusterConfigProblem(cn)).toMatch(/^controlnet\.emaDecay: the cluster script does not keep a weight average/);
    const ldm = applyOverrides(config('ldm'), ['ldm.emaDecay=0.99']);
    expect(clusterConfigProblem(ldm)).toMatch(/^ldm\.emaDecay/);
    expect(clusterConfigProblem(config('autoencoder'))).toBeNull();
  });

  it('refuses an occupied folder, a stage without its parent, and unknown datasets, writing nothing', async () => {
    const busy = join(root, 'jobs', 'busy');
    mkdirSync(busy, { recursive: true });
    writeFileSync(join(busy, 'notes.txt'), 'mine');
    await expect(exportClusterJob(services, { stage: 'autoencoder', dataset: datasetId, preset: 'desktop', outDir: busy })).rejects.toThrow(
      /busy: already exists and is not an empty folder/,
    );
    expect(readdirSync(busy)).toEqual(['notes.txt']);
    const ldm = join(root, 'jobs', 'ldm');
    await expect(exportClusterJob(services, { stage: 'ldm', dataset: datasetId, preset: 'desktop', outDir: ldm })).rejects.toThrow(/the ldm stage needs a parent autoencoder run/);
    await expect(exportClusterJob(services, { stage: 'autoencoder', dataset: 'nope', preset: 'desktop', outDir: ldm })).rejects.toThrow(/unknown dataset "nope"/);
    await expect(exportClusterJob(services, { stage: 'autoencoder', dataset: datasetId, preset: 'desktop', overrides: ['loop.epochz=2'], outDir: ldm })).rejects.toThrow(/unknown config key/);
    expect(existsSync(ldm)).toBe(false);
    expect(readdirSync(join(root, 'jobs')).sort()).toEqual(['ae', 'busy']);
  }, 120_000);
});

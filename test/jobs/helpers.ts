import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PreparedCacheWriter } from '../../src/ml/data/prepare';
import type { SplitName } from '../../src/ml/data/split';
import { openBackend, type Services } from '../../src/backend';
import type { JobsOptions } from '../../src/backend/training/training-jobs';
import { TrainingJobs } from '../../src/backend/training/training-jobs';
import { syntheticSlices } from '../train/fixtures';

/** A fresh home with one synthetic prepared dataset (160x224 cache, trained at 20x28). */
export function makeHome(counts = { train: 12, validation: 4 }): { home: string; services: Services; datasetId: number } {
  const home = mkdtempSync(join(tmpdir(), 'bs-jobs-'));
  const services = openBackend({ home });
  const datasetId = addSyntheticDataset(services, 'synthetic', counts);
  return { home, services, datasetId };
}

export function addSyntheticDataset(services: Services, name: string, counts: { train: number; validation: number }): number {
  const info = services.store.db
    .prepare("INSERT INTO datasets (name, kind, source, synthetic) VALUES (?, 'phantom', 'test: synthetic ellipses', 1)")
    .run(name);
  const id = Number(info.lastInsertRowid);
  const cacheDir = join(services.home.datasetDir(id), 'prepared');
  const writer = new PreparedCacheWriter(cacheDir, {
    slices: { kind: 'reference' },
    normalisation: 'minmax',
    fractions: [0.7, 0.3, 0],
    seed: 1,
    pinned: {},
    dims: [182, 218, 182],
  });
  const stats = { method: 'minmax' as const, low: 0, high: 1 };
  let seed = 10;
  for (const [split, count] of Object.entries(counts) as [SplitName, number][]) {
    const s = syntheticSlices(count, 160, 224, seed++);
    const px = 160 * 224;
    writer.add(`sub-${split}`, null, split, {
      zs: Array.from({ length: count }, (_, i) => i),
      mniZ: Array.from({ length: count }, (_, i) => i),
      flair: Array.from({ length: count }, (_, i) => s.flair.slice(i * px, (i + 1) * px)),
      t1w: Array.from({ length: count }, (_, i) => s.t1w.slice(i * px, (i + 1) * px)),
      lesionPixels: null,
      stats: { flair: stats, t1w: stats },
    });
  }
  writer.commit();
  services.store.db.prepare('UPDATE datasets SET prepared = ? WHERE id = ?').run(JSON.stringify({ cacheDir }), id);
  return id;
}

/** --set overrides for tiny networks on 20x28 slices (160x224 / 8). */
export const TINY = {
  common: ['imageSize=[20,28]', 'loop.batchSize=4', 'loop.maxValBatches=1', 'loop.valEvery=1'],
  autoencoder: [
    'autoencoder.network={"spatial_dims":2,"in_channels":1,"out_channels":1,"num_channels":[8,16],"latent_channels":2,"num_res_blocks":1,"norm_num_groups":4,"attention_levels":[false,false],"with_encoder_nonlocal_attn":false,"with_decoder_nonlocal_attn":false}',
    'autoencoder.discriminator={"spatial_dims":2,"num_channels":8,"num_layers_d":2,"in_channels":1,"out_channels":1}',
    'autoencoder.advStartEpoch=1',
    'autoencoder.lr=0.003',
  ],
  ldm: [
    'ldm.network={"spatial_dims":2,"in_channels":2,"out_channels":2,"num_res_blocks":1,"num_channels":[8,16],"attention_levels":[false,true],"norm_num_groups":4,"with_conditioning":true,"cross_attention_dim":8,"num_head_channels":[0,16]}',
    'ldm.contextTokens=3',
    'ldm.sampleSteps=3',
    'ldm.figureExamples=2',
    'ldm.lr=0.002',
  ],
  controlnet: ['controlnet.network.conditioning_embedding_num_channels=[4,8]', 'controlnet.sampleSteps=3', 'controlnet.figureExamples=2', 'controlnet.lr=0.002'],
};

/** A training service with its own job host (so a test can capture its workers). */
export function jobsWith(services: Services, opts: JobsOptions): TrainingJobs {
  const { host: _shared, ...deps } = services;
  return new TrainingJobs(deps, opts);
}

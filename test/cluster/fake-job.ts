import { createHash, randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeSafetensors, type StateDict } from '../../src/ml/io';
import { buildTrainConfig } from '../../src/ml/train/validate';
import { JOB_FORMAT, type ClusterJobManifest } from '../../src/backend/cluster/manifest';
import { TINY } from '../jobs/helpers';

/**
 * A job folder as train.py leaves it, written without torch: what the import tests need (the real
 * torchrun round trip is test/cluster/roundtrip.test.ts).
 */
export function fakeJob(dir: string, dataset: { id: number; name: string }): ClusterJobManifest {
  const config = buildTrainConfig({ stage: 'autoencoder', preset: 'desktop', overrides: [...TINY.common, ...TINY.autoencoder] });
  const manifest: ClusterJobManifest = {
    format: JOB_FORMAT,
    version: 1,
    jobId: randomUUID(),
    name: 'fake cluster autoencoder',
    stage: 'autoencoder',
    preset: 'desktop',
    config: config as unknown as ClusterJobManifest['config'],
    dataset,
    parent: null,
    parents: {},
    data: { exportRoot: join(dir, 'data'), rows: { train: 0, validation: 0, test: 0 } },
    exportedAt: new Date().toISOString(),
    exportedFrom: 'test',
  };
  mkdirSync(join(dir, 'output', 'checkpoints'), { recursive: true });
  writeFileSync(join(dir, 'job.json'), JSON.stringify(manifest));
  return manifest;
}

export function writeStatus(dir: string, m: ClusterJobManifest, state: 'running' | 'completed' | 'failed', step: number, extra: Record<string, unknown> = {}): void {
  const status = { state, stage: m.stage, jobId: m.jobId, worldSize: 2, backend: 'gloo', device: 'cpu', host: 'node7', step, startedAt: '2026-01-01T10:00:00Z', updatedAt: '2026-01-01T10:05:00Z', ...extra };
  writeFileSync(join(dir, 'output', 'status.json.tmp'), JSON.stringify(status));
  renameSync(join(dir, 'output', 'status.json.tmp'), join(dir, 'output', 'status.json'));
}

export function appendMetrics(dir: string, fromStep: number, toStep: number, tail = ''): void {
  let text = '';
  for (let s = fromStep; s <= toStep; s++) {
    text += `${JSON.stringify({ step: s, epoch: 0, split: 'train', name: 'l1_loss', value: 1 / s })}\n`;
    text += `${JSON.stringify({ step: s, epoch: 0, split: 'train', name: 'loss', value: 2 / s })}\n`;
  }
  appendFileSync(join(dir, 'output', 'metrics.jsonl'), text + tail);
}

/** A checkpoint folder + last pointer as train.py writes them. */
export function writeClusterCheckpoint(dir: string, step: number, model: StateDict): string {
  const name = `step-${String(step).padStart(8, '0')}`;
  const ck = join(dir, 'output', 'checkpoints', name);
  mkdirSync(ck, { recursive: true });
  writeSafetensors(join(ck, 'model.safetensors'), model);
  const bytes = readFileSync(join(ck, 'model.safetensors'));
  const meta = {
    format: 'brainsynth-cluster-checkpoint',
    version: 1,
    stage: 'autoencoder',
    step,
    epoch: 1,
    files: { 'model.safetensors': { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.byteLength } },
    bestValLoss: 0.5,
  };
  writeFileSync(join(ck, 'meta.json'), JSON.stringify(meta));
  writeFileSync(join(dir, 'output', 'checkpoints', 'last.json'), JSON.stringify({ dir: name, step }));
  return ck;
}

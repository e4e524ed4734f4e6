import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MetricPoint, type Run } from '../../shared/contract';
import { readSafetensors, type StateDict } from '../../ml/io';
import { checkpointDir, promoteCheckpoint, readCheckpointMeta, writeCheckpoint, type CheckpointKind } from '../../ml/pipeline/checkpoint';
import { Rng } from '../../ml/util/rng';
import type { ClusterDeps } from './deps';
import { InvalidInputError, NotFoundError } from '../errors';
import {
  checkpointMetaSchema,
  readJsonFile,
  readManifest,
  statusSchema,
  type ClusterCheckpointMeta,
  type ClusterJobManifest,
  type ClusterStatus,
} from './manifest';

/**
 * `brainsynth cluster import DIR`: everything in a job folder is read and checked first (manifest,
 * status, every complete metrics line, the newest checkpoint's hashes); only then is anything
 * written, so a corrupt or foreign folder gets a clear error and leaves the store as it was.
 * Importing again is idempotent: the run is found by the job's id, metrics are keyed by
 * (run, name, split, step), and a checkpoint is converted only when its step is new. Checkpoints
 * become ordinary brainsynth checkpoints in the run's folder, so an imported run is a parent,
 * a Generate model, an evaluation subject like any local one.
 */

/** Marker in the run config: which cluster job this run is (and where its folder was). */
export interface ClusterRunInfo {
  jobId: string;
  folder: string;
  exportedFrom: string;
}

interface ClusterCheckpoint {
  dir: string;
  meta: ClusterCheckpointMeta;
  kinds: CheckpointKind[];
}

export interface ClusterSnapshot {
  dir: string;
  manifest: ClusterJobManifest;
  status: ClusterStatus | null;
  metrics: MetricPoint[];
  checkpoint: ClusterCheckpoint | null;
}

export interface ClusterImportResult {
  run: Run;
  created: boolean;
  /** Metric points read this time (re-imports upsert the same points). */
  metrics: number;
  /** Step of the checkpoint converted this time, or null when there was none new. */
  checkpointStep: number | null;
  /** The job's own state: running, completed, failed, or not started (no status.json yet). */
  jobState: ClusterStatus['state'] | 'not started';
}

/** Complete lines of output/metrics.jsonl; an unterminated last line is still being written. */
function readMetrics(path: string): MetricPoint[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  const end = text.lastIndexOf('\n');
  if (end < 0) return [];
  const lines = text.slice(0, end).split('\n');
  const out: MetricPoint[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      throw new Error(`${path}:${i + 1}: not a JSON metrics record (the file is damaged)`);
    }
    const parsed = MetricPoint.safeParse(raw);
    if (!parsed.success) {
      throw new Error(`${path}:${i + 1}: not a metrics record {step, epoch, split, name, value} (${parsed.error.issues[0]?.message ?? 'invalid'})`);
    }
    out.push(parsed.data);
  });
  return out;
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function readPointer(root: string, kind: CheckpointKind): { dir: string; step: number } | null {
  const p = join(root, `${kind}.json`);
  if (!existsSync(p)) return null;
  let v: { dir?: unknown; step?: unknown };
  try {
    v = JSON.parse(readFileSync(p, 'utf8')) as typeof v;
  } catch (err) {
    throw new Error(`${p}: damaged checkpoint pointer (${(err as Error).message})`);
  }
  if (typeof v.dir !== 'string' || !/^step-\d+$/.test(v.dir) || typeof v.step !== 'number') throw new Error(`${p}: damaged checkpoint pointer`);
  return { dir: v.dir, step: v.step };
}

function readCheckpoint(root: string, stage: string): ClusterCheckpoint | null {
  let last = readPointer(root, 'last');
  if (!last) return null;
  // A live job may replace the checkpoint between our reading its pointer and its folder.
  if (!existsSync(join(root, last.dir, 'meta.json'))) last = readPointer(root, 'last') ?? last;
  const dir = join(root, last.dir);
  const meta = readJsonFile(join(dir, 'meta.json'), checkpointMetaSchema, 'cluster checkpoint metadata');
  if (meta.stage !== stage) throw new Error(`${dir}: a ${meta.stage} checkpoint in a ${stage} job`);
  if (!meta.files['model.safetensors']) throw new Error(`${dir}: meta.json lists no model.safetensors`);
  for (const [file, expected] of Object.entries(meta.files)) {
    const path = join(dir, file);
    if (!existsSync(path)) throw new Error(`${path}: listed in meta.json but missing`);
    if (sha256(path) !== expected.sha256) throw new Error(`${path}: checksum mismatch (file damaged or replaced)`);
  }
  const best = readPointer(root, 'best');
  return { dir, meta, kinds: best?.dir === last.dir ? ['last', 'best'] : ['last'] };
}

/** Reads and checks a job folder without writing anything. */
export function readClusterFolder(folder: string): ClusterSnapshot {
  const dir = resolve(folder);
  const manifest = readManifest(dir);
  const out = join(dir, 'output');
  const statusPath = join(out, 'status.json');
  const status = existsSync(statusPath) ? readJsonFile(statusPath, statusSchema, 'cluster job status') : null;
  if (status?.jobId !== undefined && status.jobId !== manifest.jobId) {
    throw new Error(`${statusPath}: belongs to job ${status.jobId}, but job.json is job ${manifest.jobId} (output copied from another job?)`);
  }
  return {
    dir,
    manifest,
    status,
    metrics: readMetrics(join(out, 'metrics.jsonl')),
    checkpoint: readCheckpoint(join(out, 'checkpoints'), manifest.stage),
  };
}

export function findClusterRun(services: ClusterDeps, jobId: string): Run | null {
  return services.runs.findByClusterJob(jobId);
}

/** "where it ran", kept in the run's backend field. */
export function whereItRan(status: ClusterStatus | null): string {
  if (!status) return 'cluster (not started)';
  const procs = status.worldSize ?? 1;
  return `cluster: torchrun ${procs} proc${procs === 1 ? '' : 's'} ${status.backend ?? ''} on ${status.host ?? '?'} (${status.device ?? '?'})`.replace(/\s+/g, ' ');
}

function checkLineage(services: ClusterDeps, m: ClusterJobManifest): void {
  if (!m.parent) return;
  let parent: Run;
  try {
    parent = services.runs.get(m.parent.runId);
  } catch (err) {
    if (err instanceof NotFoundError) {
      throw new InvalidInputError(`job ${m.jobId}: its parent run ${m.parent.runId} is not in this workstation's store (import the job where it was exported)`);
    }
    throw err;
  }
  if (parent.stage !== m.parent.stage) {
    throw new InvalidInputError(`job ${m.jobId}: parent run ${m.parent.runId} here is a ${parent.stage} run, the job was exported from a ${m.parent.stage} run (different store?)`);
  }
}

function datasetIdIfKnown(services: ClusterDeps, m: ClusterJobManifest): number | undefined {
  try {
    const d = services.datasets.get(m.dataset.id) as { name: string };
    return d.name === m.dataset.name ? m.dataset.id : undefined;
  } catch {
    return undefined;
  }
}

function toCheckpointFiles(ck: ClusterCheckpoint): { model: StateDict; state: StateDict; context?: StateDict } {
  const model = readSafetensors(join(ck.dir, 'model.safetensors')).tensors;
  const state: StateDict = new Map();
  if (ck.meta.latentScale !== undefined) state.set('latent_scale', { shape: [1], data: Float32Array.of(ck.meta.latentScale) });
  const ctxPath = join(ck.dir, 'context.safetensors');
  const context = existsSync(ctxPath) ? readSafetensors(ctxPath).tensors : undefined;
  return { model, state, ...(context ? { context } : {}) };
}

/**
 * Brings a snapshot into the store. `following`: a follower holds the run 'running' while the job
 * runs; a one-off import of an unfinished job leaves it 'cancelled' (paused), so no process takes
 * it for an interrupted local run, and the next import continues it.
 */
export function ingestSnapshot(services: ClusterDeps, snap: ClusterSnapshot, opts: { following?: boolean } = {}): ClusterImportResult {
  const m = snap.manifest;
  checkLineage(services, m);
  // Loading the weights before any write keeps a broken checkpoint from leaving a half-imported run.
  let existing = findClusterRun(services, m.jobId);
  const runDirOf = (id: number) => services.home.runDir(id);
  const importedStep = existing ? (() => {
    const d = checkpointDir(runDirOf(existing!.id), 'last');
    return d ? readCheckpointMeta(d).step : -1;
  })() : -1;
  const ck = snap.checkpoint && snap.checkpoint.meta.step > importedStep ? snap.checkpoint : null;
  const files = ck ? toCheckpointFiles(ck) : null;

  const where = whereItRan(snap.status);
  const created = existing === null;
  const run = services.store.transaction(() => {
    const cluster: ClusterRunInfo = { jobId: m.jobId, folder: snap.dir, exportedFrom: m.exportedFrom };
    const r =
      existing ??
      services.runs.create({
        stage: m.stage,
        name: m.name,
        datasetId: datasetIdIfKnown(services, m),
        config: { ...m.config, cluster } as Record<string, unknown>,
        backend: where,
        seed: m.config.loop.seed,
        parents: m.parent ? [{ runId: m.parent.runId, role: m.parent.stage }] : [],
        status: 'created',
      });
    if (snap.metrics.length > 0) {
      for (let i = 0; i < snap.metrics.length; i += 5000) services.metrics.append(r.id, snap.metrics.slice(i, i + 5000));
    }
    return r;
  });
  existing = run;

  if (ck && files) {
    const config = { ...m.config } as Record<string, unknown>;
    const written = writeCheckpoint(runDirOf(run.id), {
      ...files,
      meta: {
        stage: m.stage,
        step: ck.meta.step,
        epoch: ck.meta.epoch,
        stepInEpoch: 0,
        rng: Rng.fromSeed(m.config.loop.seed).getState(),
        bestValLoss: ck.meta.bestValLoss ?? null,
        lastValLoss: null,
        config,
      },
    });
    promoteCheckpoint(runDirOf(run.id), written, ck.kinds);
    services.checkpoints.replace(run.id, ck.kinds, { path: written.modelPath, step: ck.meta.step, epoch: ck.meta.epoch, sha256: written.sha256 });
  }

  const state = snap.status?.state ?? null;
  const target: Run['status'] =
    state === 'completed' ? 'completed' : state === 'failed' ? 'failed' : opts.following ? 'running' : 'cancelled';
  let current = services.runs.get(run.id);
  if (current.status !== 'completed' && current.status !== target) {
    const error =
      target === 'failed'
        ? `the cluster job failed: ${snap.status?.error ?? 'no reason recorded'}`
        : target === 'cancelled'
          ? `still ${state ?? 'not started'} on the cluster when imported (step ${snap.status?.step ?? 0}); import again or follow to bring in the rest`
          : null;
    if ((target === 'completed' || target === 'failed') && current.status !== 'running') current = services.runs.update({ id: run.id, status: 'running' });
    current = services.runs.update({ id: run.id, status: target, error, backend: where });
  } else if (current.backend !== where && current.status !== 'completed') {
    current = services.runs.update({ id: run.id, backend: where });
  }
  const times = clusterTimes(snap.status);
  if (times.startedAt && (current.startedAt !== times.startedAt || (times.finishedAt && current.finishedAt !== times.finishedAt))) {
    // The run's duration is the job's on the cluster, not the moment it was imported.
    services.runs.setTimes(run.id, times.startedAt, times.finishedAt);
    current = services.runs.get(run.id);
  }
  return { run: current, created, metrics: snap.metrics.length, checkpointStep: ck ? ck.meta.step : null, jobState: state ?? 'not started' };
}

function clusterTimes(status: ClusterStatus | null): { startedAt: string | null; finishedAt: string | null } {
  const iso = (v: unknown) => (typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? new Date(v).toISOString() : null);
  const terminal = status?.state === 'completed' || status?.state === 'failed';
  return { startedAt: iso(status?.startedAt), finishedAt: terminal ? iso(status?.updatedAt) : null };
}

/** One import: read and check everything, then write. */
export function importClusterRun(services: ClusterDeps, folder: string, opts: { following?: boolean } = {}): ClusterImportResult {
  let snap: ClusterSnapshot;
  try {
    snap = readClusterFolder(folder);
  } catch (err) {
    throw new InvalidInputError((err as Error).message);
  }
  return ingestSnapshot(services, snap, opts);
}

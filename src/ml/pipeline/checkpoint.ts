import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { diskError, readSafetensors, writeFileAtomic, writeSafetensors, type StateDict } from '../io';
import type { RngState } from '../util/rng';

/** What a resumed run needs to continue the same budget, schedule and plateau count. */
export interface ScheduleState {
  /** Wall seconds spent by earlier sessions of this run (counted against a time budget). */
  elapsedSeconds: number;
  /** The latest projection of the run's total optimiser steps. */
  projectedSteps: number;
  /** Best validation loss seen by the plateau rule, and validations since it improved. */
  plateauBest: number | null;
  sinceImprovement: number;
  /** Set once a plateau started the closing anneal (absent in checkpoints written before it existed). */
  anneal?: Anneal | null;
}

/**
 * The closing anneal a plateau starts under a decaying schedule: from `factor` at optimiser step
 * `step`, a half cosine down to the floor over `steps` steps, then the run stops. Stopping at
 * once would keep weights trained at a high rate when the budget is long (on open MS an
 * autoencoder given 40 minutes plateaued at 14.5 with the rate still at 0.7 of its peak, and
 * reconstructed worse than one whose 20-minute cosine had run out); the annealed tail is where a
 * cosine gains most.
 */
export interface Anneal {
  step: number;
  steps: number;
  factor: number;
}

/**
 * Training checkpoints on disk. One checkpoint is a folder `checkpoints/step-<n>/` holding
 *   model.safetensors    the trained network's state_dict in MONAI names (loadable on its own),
 *   state.safetensors    everything else needed to continue (optimiser moments, discriminator
 *                        and its optimiser, learned context), keys prefixed by owner,
 *   context.safetensors  (LDM) the prompt / null context embeddings, the format a user supplies,
 *   meta.json            step, epoch, RNG state, config, best validation loss, file hashes.
 * Each file is written atomically (temp + fsync + rename). The folder only becomes "last" or
 * "best" when the small pointer file checkpoints/<kind>.json is atomically replaced after all its
 * files are on disk, so a crash at any moment leaves the previous checkpoint intact. "last" is
 * swapped first and is the commit point: meta.json names every kind the folder was written for,
 * so repairCheckpoints() can finish a promotion a crash cut short. Folders no pointer references
 * any more are deleted afterwards.
 */

export type CheckpointKind = 'last' | 'best';

export interface CheckpointMeta {
  format: 'brainsynth-checkpoint';
  version: 1;
  stage: string;
  /** Optimiser steps completed (metrics with a larger step are not covered by this checkpoint). */
  step: number;
  /** Epoch the next step belongs to, and how many of its batches are done. */
  epoch: number;
  stepInEpoch: number;
  rng: RngState;
  bestValLoss: number | null;
  lastValLoss: number | null;
  /** The pointers this folder was written to become ('last', and 'best' when it improved). */
  kinds?: CheckpointKind[];
  /** Budget, learning-rate projection and plateau count, for runs whose loop has them. */
  schedule?: ScheduleState;
  config: Record<string, unknown>;
  files: Record<string, { sha256: string; bytes: number }>;
  createdAt: string;
}

export interface CheckpointPayload {
  model: StateDict;
  state: StateDict;
  context?: StateDict;
  meta: Omit<CheckpointMeta, 'format' | 'version' | 'files' | 'createdAt'>;
}

export interface WrittenCheckpoint {
  dir: string;
  modelPath: string;
  /** sha256 of model.safetensors. */
  sha256: string;
  meta: CheckpointMeta;
}

export interface LoadedCheckpoint {
  dir: string;
  model: StateDict;
  state: StateDict;
  context: StateDict | null;
  meta: CheckpointMeta;
}

export function checkpointsDir(runDir: string): string {
  return join(runDir, 'checkpoints');
}

function sha256File(path: string): { sha256: string; bytes: number } {
  const buf = readFileSync(path);
  return { sha256: createHash('sha256').update(buf).digest('hex'), bytes: buf.byteLength };
}

/** Writes a checkpoint folder (not yet referenced by any pointer). */
export function writeCheckpoint(runDir: string, payload: CheckpointPayload): WrittenCheckpoint {
  const root = checkpointsDir(runDir);
  const dir = join(root, `step-${String(payload.meta.step).padStart(8, '0')}`);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw diskError(err, dir);
  }
  const files: CheckpointMeta['files'] = {};
  const modelPath = join(dir, 'model.safetensors');
  writeSafetensors(modelPath, payload.model, { stage: payload.meta.stage, step: String(payload.meta.step) });
  files['model.safetensors'] = sha256File(modelPath);
  writeSafetensors(join(dir, 'state.safetensors'), payload.state);
  files['state.safetensors'] = sha256File(join(dir, 'state.safetensors'));
  if (payload.context) {
    writeSafetensors(join(dir, 'context.safetensors'), payload.context);
    files['context.safetensors'] = sha256File(join(dir, 'context.safetensors'));
  }
  const meta: CheckpointMeta = {
    format: 'brainsynth-checkpoint',
    version: 1,
    ...payload.meta,
    files,
    createdAt: new Date().toISOString(),
  };
  writeFileAtomic(join(dir, 'meta.json'), new TextEncoder().encode(JSON.stringify(meta, null, 1)));
  return { dir, modelPath, sha256: files['model.safetensors']!.sha256, meta };
}

interface Pointer {
  dir: string;
  step: number;
}

function pointerPath(runDir: string, kind: CheckpointKind): string {
  return join(checkpointsDir(runDir), `${kind}.json`);
}

function readPointer(runDir: string, kind: CheckpointKind): Pointer | null {
  const p = pointerPath(runDir, kind);
  if (!existsSync(p)) return null;
  try {
    const parsed = JSON.parse(readFileSync(p, 'utf8')) as Pointer;
    return typeof parsed.dir === 'string' ? parsed : null;
  } catch {
    return null;
  }
}

function writePointer(runDir: string, kind: CheckpointKind, pointer: Pointer): void {
  writeFileAtomic(pointerPath(runDir, kind), new TextEncoder().encode(JSON.stringify(pointer)));
}

/**
 * Makes a written checkpoint the current `kind`s (atomic pointer swaps, "last" first since it
 * is the commit point), then prunes.
 */
export function promoteCheckpoint(runDir: string, written: WrittenCheckpoint, kinds: CheckpointKind[]): void {
  const name = written.dir.slice(checkpointsDir(runDir).length + 1);
  const ordered = [...kinds].sort((a, b) => (a === 'last' ? -1 : b === 'last' ? 1 : 0));
  for (const kind of ordered) writePointer(runDir, kind, { dir: name, step: written.meta.step });
  pruneCheckpoints(runDir);
}

/**
 * Brings a run's checkpoints back to a consistent state after a crash: a "last" folder written
 * to be "best" too gets that pointer (the crash fell between the two swaps), and folders no
 * pointer references (written but never promoted) are deleted.
 */
export function repairCheckpoints(runDir: string): void {
  const last = readPointer(runDir, 'last');
  const dir = checkpointDir(runDir, 'last');
  if (last && dir) {
    for (const kind of readCheckpointMeta(dir).kinds ?? []) {
      if (kind !== 'last' && readPointer(runDir, kind)?.dir !== last.dir) writePointer(runDir, kind, last);
    }
  }
  pruneCheckpoints(runDir);
}

/** Deletes checkpoint folders that no pointer references, and pointer temp files a crash left. */
export function pruneCheckpoints(runDir: string): void {
  const root = checkpointsDir(runDir);
  if (!existsSync(root)) return;
  const keep = new Set<string>();
  for (const kind of ['last', 'best'] as const) {
    const p = readPointer(runDir, kind);
    if (p) keep.add(p.dir);
  }
  for (const entry of readdirSync(root)) {
    const orphan = entry.startsWith('step-') && !keep.has(entry);
    const staleTemp = entry.startsWith('.') && entry.endsWith('.tmp');
    if (orphan || staleTemp) rmSync(join(root, entry), { recursive: true, force: true });
  }
}

/** The folder of the current `kind` checkpoint, or null when there is none yet. */
export function checkpointDir(runDir: string, kind: CheckpointKind = 'last'): string | null {
  const p = readPointer(runDir, kind);
  if (!p) return null;
  const dir = join(checkpointsDir(runDir), p.dir);
  return existsSync(join(dir, 'meta.json')) ? dir : null;
}

export function readCheckpointMeta(dir: string): CheckpointMeta {
  const path = join(dir, 'meta.json');
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(readFileSync(path, 'utf8')) as CheckpointMeta;
  } catch (err) {
    throw new Error(`${path}: cannot read checkpoint metadata (${(err as Error).message})`);
  }
  if (meta.format !== 'brainsynth-checkpoint') throw new Error(`${path}: not a brainsynth checkpoint`);
  return meta;
}

/** Loads a checkpoint folder, verifying every file against the hashes in meta.json. */
export function loadCheckpoint(dir: string): LoadedCheckpoint {
  const meta = readCheckpointMeta(dir);
  for (const [file, expected] of Object.entries(meta.files)) {
    const got = sha256File(join(dir, file));
    if (got.sha256 !== expected.sha256) throw new Error(`${join(dir, file)}: checksum mismatch (file damaged or replaced)`);
  }
  const context = existsSync(join(dir, 'context.safetensors')) ? readSafetensors(join(dir, 'context.safetensors')).tensors : null;
  return {
    dir,
    meta,
    model: readSafetensors(join(dir, 'model.safetensors')).tensors,
    state: readSafetensors(join(dir, 'state.safetensors')).tensors,
    context,
  };
}

/** Splits `prefix.<rest>` entries out of a state file. */
export function subDict(sd: StateDict, prefix: string): StateDict {
  const out: StateDict = new Map();
  const p = `${prefix}.`;
  for (const [k, v] of sd) if (k.startsWith(p)) out.set(k.slice(p.length), v);
  return out;
}

export function withPrefix(sd: StateDict, prefix: string, into: StateDict = new Map()): StateDict {
  for (const [k, v] of sd) into.set(`${prefix}.${k}`, v);
  return into;
}

import { resolve } from 'node:path';
import type { Checkpoint } from '../../shared/contract';
import type { Store } from '../store';
import { NotFoundError } from '../errors';
import { fromStoredPath, homeRootOfDb, toStoredPath } from '../home-paths';

interface CheckpointRow {
  id: number;
  run_id: number;
  kind: string;
  path: string;
  step: number;
  epoch: number | null;
  sha256: string;
  created_at: string;
}

const toCheckpoint = (r: CheckpointRow, homeRoot: string | undefined): Checkpoint => ({
  id: r.id,
  runId: r.run_id,
  kind: r.kind,
  path: fromStoredPath(homeRoot, r.path),
  step: r.step,
  epoch: r.epoch,
  sha256: r.sha256,
  createdAt: r.created_at,
});

export interface CheckpointInput {
  kind?: string;
  path: string;
  step: number;
  epoch?: number | null;
  sha256: string;
}

/**
 * Checkpoint records (the files themselves are written atomically by the training loop). Paths
 * inside the home are stored relative to it, so a moved or copied home uses its own files.
 */
export class CheckpointsService {
  private readonly homeRoot: string | undefined;

  constructor(private readonly store: Store) {
    this.homeRoot = homeRootOfDb(store.db);
  }

  /** A path as stored; one given relative to the working folder is made absolute first (a stored relative path means "inside the home"). */
  private stored(path: string): string {
    return this.homeRoot ? toStoredPath(this.homeRoot, resolve(path)) : path;
  }

  add(runId: number, input: CheckpointInput): Checkpoint {
    const db = this.store.db;
    return this.store.transaction(() => {
      if (!db.prepare('SELECT 1 FROM runs WHERE id = ?').get(runId)) throw new NotFoundError(`run ${runId} does not exist`);
      const info = db
        .prepare('INSERT INTO checkpoints (run_id, kind, path, step, epoch, sha256, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(runId, input.kind ?? 'last', this.stored(input.path), input.step, input.epoch ?? null, input.sha256, new Date().toISOString());
      return toCheckpoint(db.prepare('SELECT * FROM checkpoints WHERE id = ?').get(info.lastInsertRowid) as CheckpointRow, this.homeRoot);
    });
  }

  /** A checkpoint written under one or more kinds ('last', 'best') replaces the earlier ones of those kinds. */
  replace(runId: number, kinds: readonly string[], input: Omit<CheckpointInput, 'kind'>): void {
    const db = this.store.db;
    const path = this.stored(input.path);
    this.store.transaction(() => {
      for (const kind of kinds) {
        db.prepare('DELETE FROM checkpoints WHERE run_id = ? AND kind = ?').run(runId, kind);
        db.prepare('INSERT INTO checkpoints (run_id, kind, path, step, epoch, sha256, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
          runId,
          kind,
          path,
          input.step,
          input.epoch ?? null,
          input.sha256,
          new Date().toISOString(),
        );
      }
    });
  }

  /** Forgets the run's checkpoint of a kind (its files are gone). */
  remove(runId: number, kind: string): void {
    this.store.db.prepare('DELETE FROM checkpoints WHERE run_id = ? AND kind = ?').run(runId, kind);
  }

  list(runId: number): Checkpoint[] {
    const rows = this.store.db.prepare('SELECT * FROM checkpoints WHERE run_id = ? ORDER BY step, id').all(runId) as CheckpointRow[];
    return rows.map((r) => toCheckpoint(r, this.homeRoot));
  }

  /** The newest checkpoint of a kind (highest step), or undefined. */
  latest(runId: number, kind = 'last'): Checkpoint | undefined {
    const row = this.store.db
      .prepare('SELECT * FROM checkpoints WHERE run_id = ? AND kind = ? ORDER BY step DESC, id DESC LIMIT 1')
      .get(runId, kind) as CheckpointRow | undefined;
    return row && toCheckpoint(row, this.homeRoot);
  }
}

import type { Store } from '.';

export interface CheckpointRow {
  id: number;
  run_id: number;
  kind: string;
  path: string;
  step: number;
  epoch: number | null;
  sha256: string;
  created_at: string;
}

export interface CheckpointRowInput {
  kind: string;
  path: string;
  step: number;
  epoch: number | null;
  sha256: string;
  createdAt: string;
}

/** SQL of the checkpoints table. */
export class CheckpointsRepository {
  constructor(private readonly store: Store) {}

  runExists(runId: number): boolean {
    return this.store.db.prepare('SELECT 1 FROM runs WHERE id = ?').get(runId) !== undefined;
  }

  insert(runId: number, c: CheckpointRowInput): number {
    const info = this.store.db
      .prepare('INSERT INTO checkpoints (run_id, kind, path, step, epoch, sha256, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(runId, c.kind, c.path, c.step, c.epoch, c.sha256, c.createdAt);
    return Number(info.lastInsertRowid);
  }

  deleteKind(runId: number, kind: string): void {
    this.store.db.prepare('DELETE FROM checkpoints WHERE run_id = ? AND kind = ?').run(runId, kind);
  }

  get(id: number): CheckpointRow | undefined {
    return this.store.db.prepare('SELECT * FROM checkpoints WHERE id = ?').get(id) as CheckpointRow | undefined;
  }

  list(runId: number): CheckpointRow[] {
    return this.store.db.prepare('SELECT * FROM checkpoints WHERE run_id = ? ORDER BY step, id').all(runId) as CheckpointRow[];
  }

  /** The newest row of a kind (highest step, then newest id). */
  latest(runId: number, kind: string): CheckpointRow | undefined {
    return this.store.db
      .prepare('SELECT * FROM checkpoints WHERE run_id = ? AND kind = ? ORDER BY step DESC, id DESC LIMIT 1')
      .get(runId, kind) as CheckpointRow | undefined;
  }
}

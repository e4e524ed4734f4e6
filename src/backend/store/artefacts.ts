import type { Store } from '.';

export interface ArtefactRow {
  id: number;
  run_id: number | null;
  dataset_id: number | null;
  kind: string;
  path: string;
  step: number | null;
  meta: string;
  created_at: string;
}

export interface ArtefactRowInput {
  runId: number | null;
  datasetId: number | null;
  kind: string;
  path: string;
  step: number | null;
  /** JSON text. */
  meta: string;
  createdAt: string;
}

/** SQL of the artefacts table. */
export class ArtefactsRepository {
  constructor(private readonly store: Store) {}

  /** Inserts each row and returns it as stored; the caller wraps this in a transaction. */
  insertMany(inputs: readonly ArtefactRowInput[], check: (input: ArtefactRowInput, index: number) => void): ArtefactRow[] {
    const db = this.store.db;
    const insert = db.prepare('INSERT INTO artefacts (run_id, dataset_id, kind, path, step, meta, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
    const select = db.prepare('SELECT * FROM artefacts WHERE id = ?');
    return inputs.map((a, i) => {
      check(a, i);
      const info = insert.run(a.runId, a.datasetId, a.kind, a.path, a.step, a.meta, a.createdAt);
      return select.get(info.lastInsertRowid) as ArtefactRow;
    });
  }

  row(id: number): { id: number; run_id: number | null; kind: string; path: string; meta: string } | undefined {
    return this.store.db.prepare('SELECT id, run_id, kind, path, meta FROM artefacts WHERE id = ?').get(id) as
      | { id: number; run_id: number | null; kind: string; path: string; meta: string }
      | undefined;
  }

  deleteForRun(runId: number, afterStep?: number): void {
    if (afterStep === undefined) this.store.db.prepare('DELETE FROM artefacts WHERE run_id = ?').run(runId);
    else this.store.db.prepare('DELETE FROM artefacts WHERE run_id = ? AND step > ?').run(runId, afterStep);
  }

  list(filter: { runId?: number; datasetId?: number; kind?: string }): ArtefactRow[] {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.runId !== undefined) {
      where.push('run_id = ?');
      args.push(filter.runId);
    }
    if (filter.datasetId !== undefined) {
      where.push('dataset_id = ?');
      args.push(filter.datasetId);
    }
    if (filter.kind !== undefined) {
      where.push('kind = ?');
      args.push(filter.kind);
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    return this.store.db.prepare(`SELECT * FROM artefacts ${clause} ORDER BY id`).all(...args) as ArtefactRow[];
  }
}

import { resolve } from 'node:path';
import type { Artefact } from '../../shared/contract';
import type { Store } from '../store';
import { InvalidInputError } from '../errors';
import { parseJsonObject } from '../store/json';
import { fromStoredPath, homeRootOfDb, toStoredPath } from '../home-paths';

interface ArtefactRow {
  id: number;
  run_id: number | null;
  dataset_id: number | null;
  kind: string;
  path: string;
  step: number | null;
  meta: string;
  created_at: string;
}

const toArtefact = (r: ArtefactRow, homeRoot: string | undefined): Artefact => ({
  id: r.id,
  runId: r.run_id,
  datasetId: r.dataset_id,
  kind: r.kind,
  path: fromStoredPath(homeRoot, r.path),
  step: r.step,
  meta: parseJsonObject(r.meta),
  createdAt: r.created_at,
});

export interface ArtefactInput {
  runId?: number | null;
  datasetId?: number | null;
  kind: string;
  path: string;
  step?: number | null;
  meta?: Record<string, unknown>;
}

/**
 * Images, volumes, curves and tables produced by runs or dataset preparation. Paths inside the
 * home are stored relative to it, so a moved or copied home shows its own files.
 */
export class ArtefactsService {
  private readonly homeRoot: string | undefined;

  constructor(private readonly store: Store) {
    this.homeRoot = homeRootOfDb(store.db);
  }

  /** A path as stored; one given relative to the working folder is made absolute first (a stored relative path means "inside the home"). */
  private stored(path: string): string {
    return this.homeRoot ? toStoredPath(this.homeRoot, resolve(path)) : path;
  }

  /** Adds several artefacts in one transaction (all or none). */
  addMany(inputs: readonly ArtefactInput[]): Artefact[] {
    const db = this.store.db;
    return this.store.transaction(() => {
      const insert = db.prepare('INSERT INTO artefacts (run_id, dataset_id, kind, path, step, meta, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
      const select = db.prepare('SELECT * FROM artefacts WHERE id = ?');
      const now = new Date().toISOString();
      return inputs.map((a, i) => {
        if ((a.runId ?? null) === null && (a.datasetId ?? null) === null) {
          throw new InvalidInputError(`artefacts[${i}] (${a.path}): needs a runId or a datasetId`);
        }
        const info = insert.run(a.runId ?? null, a.datasetId ?? null, a.kind, this.stored(a.path), a.step ?? null, JSON.stringify(a.meta ?? {}), now);
        return toArtefact(select.get(info.lastInsertRowid) as ArtefactRow, this.homeRoot);
      });
    });
  }

  add(input: ArtefactInput): Artefact {
    return this.addMany([input])[0]!;
  }

  /** The row of one artefact (meta still JSON text, path absolute), or undefined. */
  row(id: number): { id: number; run_id: number | null; kind: string; path: string; meta: string } | undefined {
    const row = this.store.db.prepare('SELECT id, run_id, kind, path, meta FROM artefacts WHERE id = ?').get(id) as
      | { id: number; run_id: number | null; kind: string; path: string; meta: string }
      | undefined;
    if (row) row.path = fromStoredPath(this.homeRoot, row.path);
    return row;
  }

  /** Deletes a run's artefacts logged after `step` (all of them without a step). */
  deleteForRun(runId: number, afterStep?: number): void {
    if (afterStep === undefined) this.store.db.prepare('DELETE FROM artefacts WHERE run_id = ?').run(runId);
    else this.store.db.prepare('DELETE FROM artefacts WHERE run_id = ? AND step > ?').run(runId, afterStep);
  }

  list(filter: { runId?: number; datasetId?: number; kind?: string } = {}): Artefact[] {
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
    const rows = this.store.db.prepare(`SELECT * FROM artefacts ${clause} ORDER BY id`).all(...args) as ArtefactRow[];
    return rows.map((r) => toArtefact(r, this.homeRoot));
  }
}

import type { Statement } from 'better-sqlite3';
import type { Run, RunStatus } from '../../shared/contract';
import type { Store } from '.';

export interface RunRow {
  id: number;
  experiment_id: number | null;
  dataset_id: number | null;
  name: string | null;
  stage: Run['stage'];
  status: RunStatus;
  config: string;
  backend: string | null;
  seed: number | null;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
  notes: string;
  /** JSON array of normalised tags. */
  tags: string;
  dataset_name?: string | null;
}

export type RunRowInput = Pick<RunRow, 'experiment_id' | 'dataset_id' | 'name' | 'stage' | 'status' | 'config' | 'backend' | 'seed' | 'created_at' | 'updated_at' | 'started_at'>;

/** The columns an update may set (null clears). */
export type RunColumns = Partial<Pick<RunRow, 'status' | 'started_at' | 'finished_at' | 'error' | 'name' | 'backend' | 'config' | 'updated_at' | 'notes' | 'tags'>>;

export interface RunFilterColumns {
  stage?: string;
  status?: string;
  experimentId?: number;
  datasetId?: number;
}

/** SQL of the runs and run_parents tables. */
export class RunsRepository {
  private readonly selectById: Statement<[number], RunRow>;
  private readonly selectParents: Statement<[number], { parent_id: number; role: string }>;

  constructor(private readonly store: Store) {
    this.selectById = store.db.prepare('SELECT * FROM runs WHERE id = ?');
    this.selectParents = store.db.prepare('SELECT parent_id, role FROM run_parents WHERE run_id = ? ORDER BY parent_id');
  }

  get(id: number): RunRow | undefined {
    return this.selectById.get(id);
  }

  parents(id: number): { parent_id: number; role: string }[] {
    return this.selectParents.all(id);
  }

  exists(table: 'runs' | 'experiments' | 'datasets', id: number): boolean {
    return this.store.db.prepare(`SELECT 1 FROM ${table} WHERE id = ?`).get(id) !== undefined;
  }

  insert(r: RunRowInput, parents: readonly { runId: number; role: string }[]): number {
    const db = this.store.db;
    const info = db
      .prepare(
        `INSERT INTO runs (experiment_id, dataset_id, name, stage, status, config, backend, seed, created_at, updated_at, started_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(r.experiment_id, r.dataset_id, r.name, r.stage, r.status, r.config, r.backend, r.seed, r.created_at, r.updated_at, r.started_at);
    const id = Number(info.lastInsertRowid);
    const link = db.prepare('INSERT INTO run_parents (run_id, parent_id, role) VALUES (?, ?, ?)');
    for (const parent of parents) link.run(id, parent.runId, parent.role);
    return id;
  }

  /**
   * One page of runs (newest first, with their dataset's name) and the total matching the
   * filter, read in one transaction so both agree; `withRows` runs inside it too.
   */
  page<T>(filter: RunFilterColumns, limit: number, offset: number, withRows: (rows: RunRow[], total: number) => T): T {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (filter.stage) {
      where.push('r.stage = ?');
      args.push(filter.stage);
    }
    if (filter.status) {
      where.push('r.status = ?');
      args.push(filter.status);
    }
    if (filter.experimentId !== undefined) {
      where.push('r.experiment_id = ?');
      args.push(filter.experimentId);
    }
    if (filter.datasetId !== undefined) {
      where.push('r.dataset_id = ?');
      args.push(filter.datasetId);
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const db = this.store.db;
    return db.transaction(() => {
      const { n } = db.prepare(`SELECT count(*) AS n FROM runs r ${clause}`).get(...args) as { n: number };
      const rows = db
        .prepare(
          `SELECT r.*, d.name AS dataset_name FROM runs r LEFT JOIN datasets d ON d.id = r.dataset_id
           ${clause} ORDER BY r.id DESC LIMIT ? OFFSET ?`,
        )
        .all(...args, limit, offset) as RunRow[];
      return withRows(rows, n);
    })();
  }

  cancelRequested(id: number): boolean {
    const row = this.store.db.prepare('SELECT cancel_requested AS c FROM runs WHERE id = ?').get(id) as { c: number } | undefined;
    return Boolean(row?.c);
  }

  setCancelRequested(id: number, requested: boolean): void {
    this.store.db.prepare('UPDATE runs SET cancel_requested = ? WHERE id = ?').run(requested ? 1 : 0, id);
  }

  /** Ids of runs some process has queued or is running. */
  activeIds(): number[] {
    return (this.store.db.prepare("SELECT id FROM runs WHERE status IN ('queued', 'running')").all() as { id: number }[]).map((r) => r.id);
  }

  /** Sets the given columns (in the order given); nothing when none. */
  update(id: number, cols: RunColumns): void {
    const entries = Object.entries(cols) as [keyof RunColumns, string | null][];
    if (entries.length === 0) return;
    this.store.db.prepare(`UPDATE runs SET ${entries.map(([k]) => `${k} = ?`).join(', ')} WHERE id = ?`).run(...entries.map(([, v]) => v), id);
  }

  /** The first run imported from a cluster job (its config's cluster.jobId), or undefined. */
  idByClusterJob(jobId: string): number | undefined {
    const row = this.store.db.prepare("SELECT id FROM runs WHERE json_extract(config, '$.cluster.jobId') = ? ORDER BY id LIMIT 1").get(jobId) as
      | { id: number }
      | undefined;
    return row?.id;
  }

  /** Sets started_at, and finished_at only where the run has already finished. */
  setTimes(id: number, startedAt: string, finishedAt: string | null): void {
    this.store.db
      .prepare('UPDATE runs SET started_at = ?, finished_at = CASE WHEN finished_at IS NULL THEN NULL ELSE coalesce(?, finished_at) END WHERE id = ?')
      .run(startedAt, finishedAt, id);
  }

  /** Runs that name `id` as a parent. */
  childIds(id: number): number[] {
    return (this.store.db.prepare('SELECT run_id AS id FROM run_parents WHERE parent_id = ? ORDER BY run_id').all(id) as { id: number }[]).map((r) => r.id);
  }

  /** Deletes a run's row; its metrics, checkpoints, artefacts and lineage rows cascade. */
  delete(id: number): void {
    this.store.db.prepare('DELETE FROM runs WHERE id = ?').run(id);
  }
}

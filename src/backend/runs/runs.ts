import { resolve } from 'node:path';
import type { Statement } from 'better-sqlite3';
import type { EventMap, ParsedRequestOf, Run, RunListItem, RunStatus } from '../../shared/contract';
import type { Store } from '../store';
import type { EventHub } from '../events';
import { ConflictError, InvalidInputError, NotFoundError } from '../errors';
import { parseJsonObject } from '../store/json';
import { fromStoredPath, homeRootOfDb, mapConfigPaths, toStoredPath } from '../home-paths';
import type { MetricsService } from './metrics';

/**
 * Runs: one training/evaluation stage each, with config, seed, backend, parents and a status
 * that only moves along ALLOWED_TRANSITIONS. Timestamps are set by the transitions themselves.
 */
export const ALLOWED_TRANSITIONS: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  created: ['queued', 'running', 'failed', 'cancelled'],
  queued: ['running', 'failed', 'cancelled'],
  running: ['completed', 'failed', 'cancelled'],
  // A failed or cancelled run may be resumed from its last checkpoint.
  failed: ['queued', 'running'],
  cancelled: ['queued', 'running'],
  completed: [],
};

const TERMINAL: ReadonlySet<RunStatus> = new Set(['completed', 'failed', 'cancelled']);

interface RunRow {
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
  dataset_name?: string | null;
}

export type RunCreateInput = ParsedRequestOf<'runs.create'>;
export type RunUpdateInput = ParsedRequestOf<'runs.update'>;
export type RunListFilter = ParsedRequestOf<'runs.list'>;

const nowIso = () => new Date().toISOString();

export class RunsService {
  private readonly selectById: Statement<[number], RunRow>;
  private readonly selectParents: Statement<[number], { parent_id: number; role: string }>;
  private readonly homeRoot: string | undefined;

  constructor(
    private readonly store: Store,
    private readonly events: EventHub<EventMap>,
    private readonly metrics: MetricsService,
  ) {
    this.selectById = store.db.prepare('SELECT * FROM runs WHERE id = ?');
    this.selectParents = store.db.prepare('SELECT parent_id, role FROM run_parents WHERE run_id = ? ORDER BY parent_id');
    this.homeRoot = homeRootOfDb(store.db);
  }

  /**
   * Config JSON as stored: path fields inside the home relative to it (a moved or copied home uses
   * its own files). A path given relative to the working folder is made absolute first, since a
   * stored relative path means "inside the home".
   */
  private storedConfig(config: Record<string, unknown>): string {
    const root = this.homeRoot;
    return JSON.stringify(root ? mapConfigPaths(config, (p) => toStoredPath(root, resolve(p))) : config);
  }

  private toRun(row: RunRow): Run {
    return {
      id: row.id,
      experimentId: row.experiment_id,
      datasetId: row.dataset_id,
      name: row.name,
      stage: row.stage,
      status: row.status,
      config: mapConfigPaths(parseJsonObject(row.config), (p) => fromStoredPath(this.homeRoot, p)),
      backend: row.backend,
      seed: row.seed,
      error: row.error,
      createdAt: row.created_at,
      startedAt: row.started_at,
      finishedAt: row.finished_at,
      updatedAt: row.updated_at,
      parents: this.selectParents.all(row.id).map((p) => ({ runId: p.parent_id, role: p.role })),
    };
  }

  private requireRow(table: 'runs' | 'experiments' | 'datasets', id: number, what: string): void {
    const found = this.store.db.prepare(`SELECT 1 FROM ${table} WHERE id = ?`).get(id);
    if (!found) throw new NotFoundError(`${what} ${id} does not exist`);
  }

  create(input: RunCreateInput): Run {
    const db = this.store.db;
    const run = this.store.transaction(() => {
      if (input.experimentId !== undefined) this.requireRow('experiments', input.experimentId, 'experiment');
      if (input.datasetId !== undefined) this.requireRow('datasets', input.datasetId, 'dataset');
      for (const parent of input.parents ?? []) this.requireRow('runs', parent.runId, 'parent run');
      const status = input.status ?? 'created';
      const now = nowIso();
      const info = db
        .prepare(
          `INSERT INTO runs (experiment_id, dataset_id, name, stage, status, config, backend, seed, created_at, updated_at, started_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          input.experimentId ?? null,
          input.datasetId ?? null,
          input.name ?? null,
          input.stage,
          status,
          this.storedConfig(input.config ?? {}),
          input.backend ?? null,
          input.seed ?? null,
          now,
          now,
          status === 'running' ? now : null,
        );
      const id = Number(info.lastInsertRowid);
      const link = db.prepare('INSERT INTO run_parents (run_id, parent_id, role) VALUES (?, ?, ?)');
      for (const parent of input.parents ?? []) link.run(id, parent.runId, parent.role);
      return this.get(id);
    });
    this.events.emit('run.updated', { run });
    return run;
  }

  get(id: number): Run {
    const row = this.selectById.get(id);
    if (!row) throw new NotFoundError(`run ${id} does not exist`);
    return this.toRun(row);
  }

  list(filter: RunListFilter = {}): { runs: RunListItem[]; total: number } {
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
    // One read transaction so the page and its total agree.
    return db.transaction(() => {
      const { n } = db.prepare(`SELECT count(*) AS n FROM runs r ${clause}`).get(...args) as { n: number };
      const rows = db
        .prepare(
          `SELECT r.*, d.name AS dataset_name FROM runs r LEFT JOIN datasets d ON d.id = r.dataset_id
           ${clause} ORDER BY r.id DESC LIMIT ? OFFSET ?`,
        )
        .all(...args, filter.limit ?? 1000, filter.offset ?? 0) as RunRow[];
      const summaries = this.metrics.summaries(rows.map((r) => r.id));
      this.metrics.addMeans(summaries, rows.filter((r) => r.stage === 'evaluation').map((r) => r.id));
      const runs = rows.map((row) => ({
        ...this.toRun(row),
        datasetName: row.dataset_name ?? null,
        metrics: summaries.get(row.id) ?? [],
      }));
      return { runs, total: n };
    })();
  }

  /** runs.cancel_requested: how `brainsynth cancel` asks the process that owns a job to stop it. */
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

  update(patch: RunUpdateInput): Run {
    const run = this.store.transaction(() => {
      const current = this.get(patch.id);
      const sets: string[] = [];
      const args: (string | number | null)[] = [];
      const now = nowIso();
      if (patch.status !== undefined && patch.status !== current.status) {
        if (!ALLOWED_TRANSITIONS[current.status].includes(patch.status)) {
          throw new ConflictError(
            `run ${patch.id}: cannot change status from '${current.status}' to '${patch.status}' ` +
              `(allowed: ${ALLOWED_TRANSITIONS[current.status].join(', ') || 'none, the run is final'})`,
          );
        }
        sets.push('status = ?');
        args.push(patch.status);
        if (patch.status === 'running' && current.startedAt === null) {
          sets.push('started_at = ?');
          args.push(now);
        }
        if (TERMINAL.has(patch.status)) {
          sets.push('finished_at = ?');
          args.push(now);
        }
        if (TERMINAL.has(current.status)) {
          // Resuming: the previous end (and its error) no longer describes the run.
          sets.push('finished_at = NULL');
          if (patch.error === undefined) sets.push('error = NULL');
        }
      }
      if (patch.error !== undefined) {
        sets.push('error = ?');
        args.push(patch.error);
      }
      if (patch.name !== undefined) {
        sets.push('name = ?');
        args.push(patch.name);
      }
      if (patch.backend !== undefined) {
        sets.push('backend = ?');
        args.push(patch.backend);
      }
      if (patch.config !== undefined) {
        if (current.status !== 'created' && current.status !== 'queued') {
          throw new InvalidInputError(`run ${patch.id}: config can only change before the run starts (status is '${current.status}')`);
        }
        sets.push('config = ?');
        args.push(this.storedConfig(patch.config));
      }
      if (sets.length === 0) return current;
      sets.push('updated_at = ?');
      args.push(now);
      this.store.db.prepare(`UPDATE runs SET ${sets.join(', ')} WHERE id = ?`).run(...args, patch.id);
      return this.get(patch.id);
    });
    this.events.emit('run.updated', { run });
    return run;
  }
}

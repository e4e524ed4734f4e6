import { resolve } from 'node:path';
import type { EventMap, ParsedRequestOf, Run, RunListItem, RunStatus } from '../../shared/contract';
import type { Store } from '../store';
import type { EventHub } from '../events';
import { ConflictError, InvalidInputError, NotFoundError } from '../errors';
import { parseJsonObject } from '../store/json';
import { MAX_NOTES_LENGTH, normaliseTags, tagsProblem } from '../../shared/run-tags';
import { fromStoredPath, homeRootOfDb, mapConfigPaths, toStoredPath } from '../home-paths';
import { RunsRepository, type RunColumns, type RunRow } from '../store/runs';
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

export type RunCreateInput = ParsedRequestOf<'runs.create'>;
export type RunUpdateInput = ParsedRequestOf<'runs.update'>;
export type RunListFilter = ParsedRequestOf<'runs.list'>;

const nowIso = () => new Date().toISOString();

/** A row's tags; a hand-edited or damaged value reads as no tags rather than failing the whole list. */
function storedTags(json: string): string[] {
  try {
    const value: unknown = JSON.parse(json);
    return Array.isArray(value) ? normaliseTags(value.filter((t): t is string => typeof t === 'string')) : [];
  } catch {
    return [];
  }
}

export class RunsService {
  private readonly repo: RunsRepository;
  private readonly homeRoot: string | undefined;

  constructor(
    private readonly store: Store,
    private readonly events: EventHub<EventMap>,
    private readonly metrics: MetricsService,
  ) {
    this.repo = new RunsRepository(store);
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
      parents: this.repo.parents(row.id).map((p) => ({ runId: p.parent_id, role: p.role })),
      notes: row.notes,
      tags: storedTags(row.tags),
    };
  }

  private requireRow(table: 'runs' | 'experiments' | 'datasets', id: number, what: string): void {
    if (!this.repo.exists(table, id)) throw new NotFoundError(`${what} ${id} does not exist`);
  }

  create(input: RunCreateInput): Run {
    const run = this.store.transaction(() => {
      if (input.experimentId !== undefined) this.requireRow('experiments', input.experimentId, 'experiment');
      if (input.datasetId !== undefined) this.requireRow('datasets', input.datasetId, 'dataset');
      for (const parent of input.parents ?? []) this.requireRow('runs', parent.runId, 'parent run');
      const status = input.status ?? 'created';
      const now = nowIso();
      const id = this.repo.insert(
        {
          experiment_id: input.experimentId ?? null,
          dataset_id: input.datasetId ?? null,
          name: input.name ?? null,
          stage: input.stage,
          status,
          config: this.storedConfig(input.config ?? {}),
          backend: input.backend ?? null,
          seed: input.seed ?? null,
          created_at: now,
          updated_at: now,
          started_at: status === 'running' ? now : null,
        },
        input.parents ?? [],
      );
      return this.get(id);
    });
    this.events.emit('run.updated', { run });
    return run;
  }

  get(id: number): Run {
    const row = this.repo.get(id);
    if (!row) throw new NotFoundError(`run ${id} does not exist`);
    return this.toRun(row);
  }

  list(filter: RunListFilter = {}): { runs: RunListItem[]; total: number } {
    return this.repo.page(filter, filter.limit ?? 1000, filter.offset ?? 0, (rows, total) => {
      const summaries = this.metrics.summaries(rows.map((r) => r.id));
      this.metrics.addMeans(summaries, rows.filter((r) => r.stage === 'evaluation').map((r) => r.id));
      const runs = rows.map((row) => ({
        ...this.toRun(row),
        datasetName: row.dataset_name ?? null,
        metrics: summaries.get(row.id) ?? [],
      }));
      return { runs, total };
    });
  }

  /** runs.cancel_requested: how `brainsynth cancel` asks the process that owns a job to stop it. */
  cancelRequested(id: number): boolean {
    return this.repo.cancelRequested(id);
  }

  setCancelRequested(id: number, requested: boolean): void {
    this.repo.setCancelRequested(id, requested);
  }

  /** Ids of runs some process has queued or is running. */
  activeIds(): number[] {
    return this.repo.activeIds();
  }

  /** The first run imported from a cluster job, or null. */
  findByClusterJob(jobId: string): Run | null {
    const id = this.repo.idByClusterJob(jobId);
    return id === undefined ? null : this.get(id);
  }

  /** Sets a run's start (and, where it has finished, its end) to times recorded elsewhere. */
  setTimes(id: number, startedAt: string, finishedAt: string | null): void {
    this.repo.setTimes(id, startedAt, finishedAt);
  }

  /**
   * A run gained results after the fact (a saved generation, a translated volume): its updated_at
   * moves so that other processes watching the store push it too, and 'run.updated' goes out here.
   */
  touch(id: number): Run {
    const run = this.store.transaction(() => {
      this.get(id);
      this.repo.update(id, { updated_at: nowIso() });
      return this.get(id);
    });
    this.events.emit('run.updated', { run });
    return run;
  }

  update(patch: RunUpdateInput): Run {
    const run = this.store.transaction(() => {
      const current = this.get(patch.id);
      const cols: RunColumns = {};
      const now = nowIso();
      if (patch.status !== undefined && patch.status !== current.status) {
        if (!ALLOWED_TRANSITIONS[current.status].includes(patch.status)) {
          throw new ConflictError(
            `run ${patch.id}: cannot change status from '${current.status}' to '${patch.status}' ` +
              `(allowed: ${ALLOWED_TRANSITIONS[current.status].join(', ') || 'none, the run is final'})`,
          );
        }
        cols.status = patch.status;
        if (patch.status === 'running' && current.startedAt === null) cols.started_at = now;
        if (TERMINAL.has(patch.status)) cols.finished_at = now;
        if (TERMINAL.has(current.status)) {
          // Resuming: the previous end (and its error) no longer describes the run.
          cols.finished_at = null;
          if (patch.error === undefined) cols.error = null;
        }
      }
      if (patch.error !== undefined) cols.error = patch.error;
      if (patch.name !== undefined) cols.name = patch.name;
      if (patch.backend !== undefined) cols.backend = patch.backend;
      // Notes and tags change at any status: they describe the run, not its computation.
      // Checked here as well as by the contract: the CLI calls the service directly.
      if (patch.notes !== undefined && patch.notes.length > MAX_NOTES_LENGTH) {
        throw new InvalidInputError(`run ${patch.id}: notes are limited to ${MAX_NOTES_LENGTH} characters, got ${patch.notes.length}`);
      }
      if (patch.notes !== undefined && patch.notes !== current.notes) cols.notes = patch.notes;
      if (patch.tags !== undefined) {
        const tags = normaliseTags(patch.tags);
        const problem = tagsProblem(tags);
        if (problem) throw new InvalidInputError(`run ${patch.id}: ${problem}`);
        if (JSON.stringify(tags) !== JSON.stringify(current.tags)) cols.tags = JSON.stringify(tags);
      }
      if (patch.config !== undefined) {
        if (current.status !== 'created' && current.status !== 'queued') {
          throw new InvalidInputError(`run ${patch.id}: config can only change before the run starts (status is '${current.status}')`);
        }
        cols.config = this.storedConfig(patch.config);
      }
      if (Object.keys(cols).length === 0) return current;
      cols.updated_at = now;
      this.repo.update(patch.id, cols);
      return this.get(patch.id);
    });
    this.events.emit('run.updated', { run });
    return run;
  }
}

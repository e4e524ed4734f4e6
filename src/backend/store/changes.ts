import type { Store } from '.';

export interface MetricTotals {
  runId: number;
  n: number;
  lastStep: number;
  names: string;
}

/**
 * What tells this process that ANOTHER connection wrote to the store: SQLite's data_version,
 * runs updated since a time, and the per-run metric totals.
 */
export class ChangesRepository {
  private readonly changedRuns;
  private readonly totals;

  constructor(private readonly store: Store) {
    this.changedRuns = store.db.prepare('SELECT id, updated_at AS at FROM runs WHERE updated_at >= ? ORDER BY updated_at');
    this.totals = store.db.prepare('SELECT run_id AS runId, sum(count) AS n, max(last_step) AS lastStep, group_concat(name) AS names FROM metric_summaries GROUP BY run_id');
  }

  /** Changes exactly when another connection commits. */
  dataVersion(): number {
    return Number(this.store.db.pragma('data_version', { simple: true }));
  }

  /** The newest runs.updated_at, or '' without runs. */
  latestRunUpdate(): string {
    return (this.store.db.prepare('SELECT max(updated_at) AS at FROM runs').get() as { at: string | null }).at ?? '';
  }

  runsUpdatedSince(at: string): { id: number; at: string }[] {
    return this.changedRuns.all(at) as { id: number; at: string }[];
  }

  metricTotals(): MetricTotals[] {
    return this.totals.all() as MetricTotals[];
  }
}

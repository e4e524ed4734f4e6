import type { Statement } from 'better-sqlite3';
import type { Store } from '.';

export interface MetricSummaryRow {
  run_id: number;
  name: string;
  split: string;
  count: number;
  last_step: number;
  last_value: number;
  min_step: number;
  min_value: number;
  max_step: number;
  max_value: number;
}

/** One series' statistics of a batch, folded into metric_summaries after the insert. */
export interface SeriesFold {
  name: string;
  split: string;
  count: number;
  lastStep: number;
  lastValue: number;
  minStep: number;
  minValue: number;
  maxStep: number;
  maxValue: number;
}

export interface MetricRowInput {
  step: number;
  epoch: number | null;
  split: string;
  name: string;
  value: number;
  wallTime: number;
}

/** Reads of one series over [from, to] (inclusive) or one bucket [start, end). */
export interface SeriesReader {
  stats(from: number, to: number): { n: number; lo: number | null; hi: number | null };
  /** [step, value] rows in step order. */
  all(from: number, to: number): [number, number][];
  /** [min value, its step] of the bucket; value null when empty. */
  bucketMin(start: number, end: number): [number | null, number];
  bucketMax(start: number, end: number): [number, number];
  last(from: number, to: number): [number, number];
}

// Recomputes summaries from the metrics rows; the bare columns (step/value) come from the row
// holding the max()/min(). Used for backfill-like cases: overwritten steps and deleteAfter.
const RECOMPUTE = (filter: string) => `
INSERT OR REPLACE INTO metric_summaries
SELECT l.run_id, l.name, l.split, l.n, l.step, l.value, lo.step, lo.value, hi.step, hi.value
FROM (SELECT run_id, name, split, count(*) AS n, max(step) AS step, value FROM metrics WHERE ${filter} GROUP BY run_id, name, split) AS l
JOIN (SELECT run_id, name, split, min(value) AS value, step FROM metrics WHERE ${filter} GROUP BY run_id, name, split) AS lo USING (run_id, name, split)
JOIN (SELECT run_id, name, split, max(value) AS value, step FROM metrics WHERE ${filter} GROUP BY run_id, name, split) AS hi USING (run_id, name, split)`;

/**
 * SQL of the metrics and metric_summaries tables. Statements used on the append path are
 * prepared once, which is what makes >= 100k points/s possible.
 */
export class MetricsRepository {
  private readonly insert: Statement;
  private readonly runExistsStmt: Statement<[number], { id: number }>;
  private readonly overlapsStmt: Statement<[number, string, string, number, number]>;
  private readonly foldSummary: Statement;
  private readonly recomputeSeries: Statement;
  private readonly recomputeRun: Statement;

  constructor(private readonly store: Store) {
    const db = store.db;
    this.insert = db.prepare(
      `INSERT INTO metrics (run_id, step, epoch, split, name, value, wall_time) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (run_id, name, split, step) DO UPDATE SET value = excluded.value, epoch = excluded.epoch, wall_time = excluded.wall_time`,
    );
    this.runExistsStmt = db.prepare('SELECT id FROM runs WHERE id = ?');
    this.overlapsStmt = db.prepare('SELECT 1 FROM metrics WHERE run_id = ? AND name = ? AND split = ? AND step BETWEEN ? AND ? LIMIT 1');
    // SET expressions all see the old row, so the CASEs compare against the stored values.
    this.foldSummary = db.prepare(
      `INSERT INTO metric_summaries (run_id, name, split, count, last_step, last_value, min_step, min_value, max_step, max_value)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (run_id, name, split) DO UPDATE SET
         count = count + excluded.count,
         last_step = max(last_step, excluded.last_step),
         last_value = CASE WHEN excluded.last_step >= last_step THEN excluded.last_value ELSE last_value END,
         min_step = CASE WHEN excluded.min_value < min_value THEN excluded.min_step ELSE min_step END,
         min_value = min(min_value, excluded.min_value),
         max_step = CASE WHEN excluded.max_value > max_value THEN excluded.max_step ELSE max_step END,
         max_value = max(max_value, excluded.max_value)`,
    );
    this.recomputeSeries = db.prepare(RECOMPUTE('run_id = @runId AND name = @name AND split = @split'));
    this.recomputeRun = db.prepare(RECOMPUTE('run_id = @runId'));
  }

  runExists(runId: number): boolean {
    return this.runExistsStmt.get(runId) !== undefined;
  }

  /** Whether the series already holds a point with a step in [from, to]. */
  overlaps(runId: number, name: string, split: string, from: number, to: number): boolean {
    return this.overlapsStmt.get(runId, name, split, from, to) !== undefined;
  }

  /** Inserts (or overwrites) one point; the caller wraps batches in a transaction. */
  upsert(runId: number, p: MetricRowInput): void {
    this.insert.run(runId, p.step, p.epoch, p.split, p.name, p.value, p.wallTime);
  }

  fold(runId: number, s: SeriesFold): void {
    this.foldSummary.run(runId, s.name, s.split, s.count, s.lastStep, s.lastValue, s.minStep, s.minValue, s.maxStep, s.maxValue);
  }

  /** Rebuilds one series' summary from its points. */
  recompute(runId: number, name: string, split: string): void {
    this.recomputeSeries.run({ runId, name, split });
  }

  seriesKeys(runId: number): { name: string; split: string }[] {
    return this.store.db.prepare('SELECT name, split FROM metric_summaries WHERE run_id = ? ORDER BY name, split').all(runId) as {
      name: string;
      split: string;
    }[];
  }

  /** Statements reading one run's series, for a caller that reads many series in one snapshot. */
  seriesReader(runId: number): (name: string, split: string) => SeriesReader {
    const db = this.store.db;
    const range = 'run_id = ? AND name = ? AND split = ? AND step BETWEEN ? AND ?';
    const stats = db.prepare(`SELECT count(*) AS n, min(step) AS lo, max(step) AS hi FROM metrics WHERE ${range}`);
    const all = db.prepare(`SELECT step, value FROM metrics WHERE ${range} ORDER BY step`).raw(true);
    // One indexed range scan per bucket for its lowest and one for its highest value (step =
    // bare column of min()/max()). Measured ~4x less CPU than GROUP BY over a computed bucket,
    // which needs a temp B-tree.
    const bucketMin = db.prepare('SELECT min(value), step FROM metrics WHERE run_id = ? AND name = ? AND split = ? AND step >= ? AND step < ?').raw(true);
    const bucketMax = db.prepare('SELECT max(value), step FROM metrics WHERE run_id = ? AND name = ? AND split = ? AND step >= ? AND step < ?').raw(true);
    const last = db.prepare(`SELECT step, value FROM metrics WHERE ${range} ORDER BY step DESC LIMIT 1`).raw(true);
    return (name, split) => ({
      stats: (from, to) => stats.get(runId, name, split, from, to) as { n: number; lo: number | null; hi: number | null },
      all: (from, to) => all.all(runId, name, split, from, to) as [number, number][],
      bucketMin: (start, end) => bucketMin.get(runId, name, split, start, end) as [number | null, number],
      bucketMax: (start, end) => bucketMax.get(runId, name, split, start, end) as [number, number],
      last: (from, to) => last.get(runId, name, split, from, to) as [number, number],
    });
  }

  /** Runs fn in one (deferred) read transaction, so every read sees the same snapshot. */
  read<T>(fn: () => T): T {
    return this.store.db.transaction(fn)();
  }

  summaries(runIds: readonly number[]): MetricSummaryRow[] {
    return this.store.db
      .prepare(`SELECT * FROM metric_summaries WHERE run_id IN (${runIds.map(() => '?').join(', ')}) ORDER BY run_id, name, split`)
      .all(...runIds) as MetricSummaryRow[];
  }

  /** Deletes points after `step` and rebuilds the run's summaries; returns how many. */
  deleteAfter(runId: number, step: number): number {
    const db = this.store.db;
    return this.store.transaction(() => {
      const removed = db.prepare('DELETE FROM metrics WHERE run_id = ? AND step > ?').run(runId, step).changes;
      if (removed > 0) {
        db.prepare('DELETE FROM metric_summaries WHERE run_id = ?').run(runId);
        this.recomputeRun.run({ runId });
      }
      return removed;
    });
  }

  /** Mean value of every series of the given runs. */
  means(runIds: readonly number[]): { run_id: number; name: string; split: string; mean: number }[] {
    if (runIds.length === 0) return [];
    return this.store.db
      .prepare(`SELECT run_id, name, split, avg(value) AS mean FROM metrics WHERE run_id IN (${runIds.map(() => '?').join(', ')}) GROUP BY run_id, name, split`)
      .all(...runIds) as { run_id: number; name: string; split: string; mean: number }[];
  }
}

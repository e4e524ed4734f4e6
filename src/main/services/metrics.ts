import type { Statement } from 'better-sqlite3';
import type { EventMap, MetricPoint, MetricSeries, MetricSummary, ParsedRequestOf } from '../../shared/contract';
import { metricGoal } from '../../shared/metric-goal';
import type { Store } from './store';
import type { EventHub } from './events';
import { InvalidInputError, NotFoundError } from './errors';
import { downsampleMinMax } from './downsample';

export type MetricQuery = Omit<ParsedRequestOf<'metrics.query'>, 'runId'>;

type SummaryRow = { run_id: number; name: string; split: string; n: number; step: number; value: number };

/**
 * Metric points (run, step, split, name) -> value. Appends are batched: one transaction and one
 * cached prepared statement per call, which is what makes >= 100k points/s possible. Re-logging
 * the same (run, name, split, step) overwrites the value, so a resumed run does not duplicate.
 */
export class MetricsService {
  private readonly insert: Statement;
  private readonly runExists: Statement<[number], { id: number }>;
  private readonly appendBatch: (runId: number, points: readonly MetricPoint[], wallTime: number) => number;

  constructor(
    private readonly store: Store,
    private readonly events: EventHub<EventMap>,
  ) {
    const db = store.db;
    this.insert = db.prepare(
      `INSERT INTO metrics (run_id, step, epoch, split, name, value, wall_time) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (run_id, name, split, step) DO UPDATE SET value = excluded.value, epoch = excluded.epoch, wall_time = excluded.wall_time`,
    );
    this.runExists = db.prepare('SELECT id FROM runs WHERE id = ?');
    this.appendBatch = (runId, points, wallTime) => {
      const tx = db.transaction(() => {
        const insert = this.insert;
        for (const p of points) insert.run(runId, p.step, p.epoch ?? null, p.split ?? 'train', p.name, p.value, p.wallTime ?? wallTime);
        return points.length;
      });
      return tx.immediate();
    };
  }

  /** Appends every point or none (one transaction). Emits 'metrics.appended' after the commit. */
  append(runId: number, points: readonly MetricPoint[]): number {
    if (!this.runExists.get(runId)) throw new NotFoundError(`run ${runId} does not exist`);
    for (let i = 0; i < points.length; i++) {
      const p = points[i]!;
      // The contract validates IPC input; in-process callers (training loops) are checked here.
      if (!Number.isFinite(p.value)) throw new InvalidInputError(`points[${i}].value: ${p.name} at step ${p.step} is ${p.value}, not a finite number`);
      if (!Number.isInteger(p.step) || p.step < 0) throw new InvalidInputError(`points[${i}].step: must be a non-negative integer, got ${p.step}`);
    }
    if (points.length === 0) return 0;
    const n = this.appendBatch(runId, points, Date.now() / 1000);
    let lastStep = 0;
    const names = new Set<string>();
    for (const p of points) {
      if (p.step > lastStep) lastStep = p.step;
      names.add(p.name);
    }
    this.events.emit('metrics.appended', { runId, count: n, names: [...names], lastStep });
    return n;
  }

  /** Series per (name, split), each downsampled to at most maxPoints for plotting. */
  query(runId: number, q: MetricQuery = {}): MetricSeries[] {
    if (!this.runExists.get(runId)) throw new NotFoundError(`run ${runId} does not exist`);
    const db = this.store.db;
    const where = ['run_id = ?'];
    const args: (string | number)[] = [runId];
    if (q.names && q.names.length) {
      where.push(`name IN (${q.names.map(() => '?').join(', ')})`);
      args.push(...q.names);
    }
    if (q.split) {
      where.push('split = ?');
      args.push(q.split);
    }
    if (q.fromStep !== undefined) {
      where.push('step >= ?');
      args.push(q.fromStep);
    }
    if (q.toStep !== undefined) {
      where.push('step <= ?');
      args.push(q.toStep);
    }
    const clause = where.join(' AND ');
    return db.transaction(() => {
      const keys = db.prepare(`SELECT DISTINCT name, split FROM metrics WHERE ${clause} ORDER BY name, split`).all(...args) as {
        name: string;
        split: string;
      }[];
      const series = db.prepare(`SELECT step, value FROM metrics WHERE ${clause} AND name = ? AND split = ? ORDER BY step`).raw(true);
      return keys.map(({ name, split }) => {
        const rows = series.all(...args, name, split) as [number, number][];
        const steps = new Float64Array(rows.length);
        const values = new Float64Array(rows.length);
        for (let i = 0; i < rows.length; i++) {
          steps[i] = rows[i]![0];
          values[i] = rows[i]![1];
        }
        const max = q.maxPoints;
        if (max === undefined || rows.length <= max) {
          return { name, split, steps: Array.from(steps), values: Array.from(values), total: rows.length, downsampled: false };
        }
        const picked = downsampleMinMax(steps, values, max);
        return { name, split, steps: picked.steps, values: picked.values, total: rows.length, downsampled: true };
      });
    })();
  }

  /** Last and best value per (name, split) for each run; best is min or max by metricGoal(name). */
  summaries(runIds: readonly number[]): Map<number, MetricSummary[]> {
    const out = new Map<number, MetricSummary[]>();
    if (runIds.length === 0) return out;
    const db = this.store.db;
    const ids = runIds.map(() => '?').join(', ');
    // SQLite returns the other columns of the row that holds the max()/min() ("bare columns").
    const last = db
      .prepare(`SELECT run_id, name, split, count(*) AS n, max(step) AS step, value FROM metrics WHERE run_id IN (${ids}) GROUP BY run_id, name, split`)
      .all(...runIds) as SummaryRow[];
    const lows = db
      .prepare(`SELECT run_id, name, split, min(value) AS value, step FROM metrics WHERE run_id IN (${ids}) GROUP BY run_id, name, split`)
      .all(...runIds) as SummaryRow[];
    const highs = db
      .prepare(`SELECT run_id, name, split, max(value) AS value, step FROM metrics WHERE run_id IN (${ids}) GROUP BY run_id, name, split`)
      .all(...runIds) as SummaryRow[];
    const key = (r: SummaryRow) => `${r.run_id}\u0000${r.name}\u0000${r.split}`;
    const lowBy = new Map(lows.map((r) => [key(r), r]));
    const highBy = new Map(highs.map((r) => [key(r), r]));
    for (const r of last) {
      const goal = metricGoal(r.name);
      const best = (goal === 'min' ? lowBy : highBy).get(key(r))!;
      const list = out.get(r.run_id) ?? [];
      list.push({ name: r.name, split: r.split, goal, count: r.n, last: { step: r.step, value: r.value }, best: { step: best.step, value: best.value } });
      out.set(r.run_id, list);
    }
    return out;
  }

  summary(runId: number): MetricSummary[] {
    if (!this.runExists.get(runId)) throw new NotFoundError(`run ${runId} does not exist`);
    return this.summaries([runId]).get(runId) ?? [];
  }

  /** Deletes points after `step` (resume from a checkpoint at `step`); returns how many. */
  deleteAfter(runId: number, step: number): number {
    return this.store.transaction(() => this.store.db.prepare('DELETE FROM metrics WHERE run_id = ? AND step > ?').run(runId, step).changes);
  }
}

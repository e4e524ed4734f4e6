import type { EventMap, MetricPoint, MetricSeries, MetricSummary, ParsedRequestOf } from '../../shared/contract';
import { metricGoal } from '../../shared/metric-goal';
import type { Store } from '../store';
import { MetricsRepository, type MetricSummaryRow } from '../store/metrics';
import type { EventHub } from '../events';
import { InvalidInputError, NotFoundError } from '../errors';
import { mergeBuckets } from './downsample';

export type MetricQuery = Omit<ParsedRequestOf<'metrics.query'>, 'runId'>;

/** Per-series statistics of one batch, folded into metric_summaries after the insert. */
interface BatchSeries {
  name: string;
  split: string;
  count: number;
  firstStep: number;
  lastStep: number;
  lastValue: number;
  minStep: number;
  minValue: number;
  maxStep: number;
  maxValue: number;
  /** Steps not strictly increasing inside the batch: a step may be written twice. */
  unordered: boolean;
}

/**
 * Metric points (run, step, split, name) -> value. Appends are batched: one transaction and one
 * cached prepared statement per call, which is what makes >= 100k points/s possible. Re-logging
 * the same (run, name, split, step) overwrites the value, so a resumed run does not duplicate.
 * metric_summaries (last/min/max per series) is maintained in the same transaction, so run
 * listings cost O(series), not O(points).
 */
export class MetricsService {
  private readonly repo: MetricsRepository;

  constructor(
    private readonly store: Store,
    private readonly events: EventHub<EventMap>,
  ) {
    this.repo = new MetricsRepository(store);
  }

  /** Appends every point or none (one transaction). Emits 'metrics.appended' after the commit. */
  append(runId: number, points: readonly MetricPoint[]): number {
    if (!this.repo.runExists(runId)) throw new NotFoundError(`run ${runId} does not exist`);
    const series = new Map<string, BatchSeries>();
    for (let i = 0; i < points.length; i++) {
      const p = points[i]!;
      // The contract validates IPC input; in-process callers (training loops) are checked here.
      if (typeof p.name !== 'string' || p.name === '') throw new InvalidInputError(`points[${i}].name: must be a non-empty string`);
      if (typeof p.value !== 'number' || !Number.isFinite(p.value)) {
        throw new InvalidInputError(`points[${i}].value: ${p.name} at step ${p.step} is ${p.value}, not a finite number`);
      }
      if (!Number.isInteger(p.step) || p.step < 0) throw new InvalidInputError(`points[${i}].step: must be a non-negative integer, got ${p.step}`);
      const split = p.split ?? 'train';
      const key = `${p.name}\u0000${split}`;
      const s = series.get(key);
      if (!s) {
        series.set(key, { name: p.name, split, count: 1, firstStep: p.step, lastStep: p.step, lastValue: p.value, minStep: p.step, minValue: p.value, maxStep: p.step, maxValue: p.value, unordered: false });
        continue;
      }
      if (p.step <= s.lastStep) s.unordered = true;
      else {
        s.lastStep = p.step;
        s.lastValue = p.value;
      }
      s.count++;
      if (p.step < s.firstStep) s.firstStep = p.step;
      if (p.value < s.minValue) {
        s.minValue = p.value;
        s.minStep = p.step;
      }
      if (p.value > s.maxValue) {
        s.maxValue = p.value;
        s.maxStep = p.step;
      }
    }
    if (points.length === 0) return 0;

    const wallTime = Date.now() / 1000;
    this.store.transaction(() => {
      // Series whose steps may already exist get exact summaries recomputed after the insert.
      const recompute: BatchSeries[] = [];
      for (const s of series.values()) {
        if (s.unordered || this.repo.overlaps(runId, s.name, s.split, s.firstStep, s.lastStep)) recompute.push(s);
      }
      const repo = this.repo;
      for (const p of points) {
        repo.upsert(runId, { step: p.step, epoch: p.epoch ?? null, split: p.split ?? 'train', name: p.name, value: p.value, wallTime: p.wallTime ?? wallTime });
      }
      for (const s of series.values()) {
        if (recompute.includes(s)) repo.recompute(runId, s.name, s.split);
        else repo.fold(runId, s);
      }
    });

    let lastStep = 0;
    for (const s of series.values()) if (s.lastStep > lastStep) lastStep = s.lastStep;
    this.events.emit('metrics.appended', { runId, count: points.length, names: [...new Set([...series.values()].map((s) => s.name))], lastStep });
    return points.length;
  }

  /** Series per (name, split), each downsampled to at most maxPoints for plotting. */
  query(runId: number, q: MetricQuery = {}): MetricSeries[] {
    if (!this.repo.runExists(runId)) throw new NotFoundError(`run ${runId} does not exist`);
    const keys = this.repo.seriesKeys(runId);
    const wanted = keys.filter((k) => (!q.names || q.names.includes(k.name)) && (!q.split || q.split === k.split));
    const from = q.fromStep ?? 0;
    const to = q.toStep ?? Number.MAX_SAFE_INTEGER;
    const reader = this.repo.seriesReader(runId);

    return this.repo.read(() =>
      wanted.map(({ name, split }): MetricSeries => {
        const series = reader(name, split);
        const { n, lo, hi } = series.stats(from, to);
        if (q.maxPoints === undefined || n <= q.maxPoints || lo === null || hi === null) {
          const rows = series.all(from, to);
          return { name, split, steps: rows.map((r) => r[0]), values: rows.map((r) => r[1]), total: n, downsampled: false };
        }
        const buckets = Math.max(1, Math.floor((q.maxPoints - 1) / 2));
        const span = hi - lo + 1;
        const lows: [number, number, number][] = [];
        const highs: [number, number, number][] = [];
        // Bucket b holds the steps with floor((step - lo) * buckets / span) === b.
        const edge = (b: number) => lo + Math.ceil((b * span) / buckets);
        for (let b = 0; b < buckets; b++) {
          const start = edge(b);
          const end = edge(b + 1);
          if (end <= start) continue;
          const low = series.bucketMin(start, end);
          if (low[0] === null) continue;
          const high = series.bucketMax(start, end);
          lows.push([b, low[0], low[1]]);
          highs.push([b, high[0], high[1]]);
        }
        const merged = mergeBuckets(lows, highs, series.last(from, to));
        return { name, split, ...merged, total: n, downsampled: true };
      }),
    );
  }

  /** Last and best value per (name, split) for each run; best is min or max by metricGoal(name). */
  summaries(runIds: readonly number[]): Map<number, MetricSummary[]> {
    const out = new Map<number, MetricSummary[]>();
    if (runIds.length === 0) return out;
    const rows: MetricSummaryRow[] = this.repo.summaries(runIds);
    for (const r of rows) {
      const goal = metricGoal(r.name);
      const best = goal === 'min' ? { step: r.min_step, value: r.min_value } : { step: r.max_step, value: r.max_value };
      const list = out.get(r.run_id) ?? [];
      list.push({ name: r.name, split: r.split, goal, count: r.count, last: { step: r.last_step, value: r.last_value }, best });
      out.set(r.run_id, list);
    }
    return out;
  }

  summary(runId: number): MetricSummary[] {
    if (!this.repo.runExists(runId)) throw new NotFoundError(`run ${runId} does not exist`);
    return this.summaries([runId]).get(runId) ?? [];
  }

  /**
   * Adds each series' mean to the summaries of the given runs. Meant for evaluation runs, whose
   * points are one per image (a mean over training steps would mean nothing), so it scans only them.
   */
  addMeans(summaries: Map<number, MetricSummary[]>, runIds: readonly number[]): void {
    if (runIds.length === 0) return;
    for (const r of this.repo.means(runIds)) {
      const m = summaries.get(r.run_id)?.find((s) => s.name === r.name && s.split === r.split);
      if (m && Number.isFinite(r.mean)) m.mean = r.mean;
    }
  }

  /** Deletes points after `step` (resume from a checkpoint at `step`); returns how many. */
  deleteAfter(runId: number, step: number): number {
    return this.repo.deleteAfter(runId, step);
  }
}

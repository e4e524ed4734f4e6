import type { EventMap } from '../../shared/contract';
import type { EventHub } from '../events';
import type { Store } from '../store';
import type { RunsService } from './runs';

/**
 * Runs and metrics written by ANOTHER process on the same home (a `brainsynth train` in a
 * terminal, a second app window) do not pass through this process's services, so nothing would
 * push them to the page. SQLite's `data_version` changes exactly when another connection
 * committed; when it does, this looks for runs changed since the last look and metric series that
 * grew, and emits the same `run.updated` / `metrics.appended` events as our own writes.
 */
export function watchExternalRunChanges(deps: { store: Store; events: EventHub<EventMap>; runs: RunsService }, intervalMs = 1000): () => void {
  const db = deps.store.db;
  const dataVersion = () => Number(db.pragma('data_version', { simple: true }));
  const changedRuns = db.prepare('SELECT id, updated_at AS at FROM runs WHERE updated_at >= ? ORDER BY updated_at');
  const metricTotals = db.prepare('SELECT run_id AS runId, sum(count) AS n, max(last_step) AS lastStep, group_concat(name) AS names FROM metric_summaries GROUP BY run_id');

  type Totals = { runId: number; n: number; lastStep: number; names: string };
  const latest = db.prepare('SELECT max(updated_at) AS at FROM runs').get() as { at: string | null };
  let since = latest.at ?? '';
  // Runs already reported at exactly `since` (timestamps can tie).
  let seenAtSince = new Set((changedRuns.all(since) as { id: number }[]).map((r) => r.id));
  let counts = new Map((metricTotals.all() as Totals[]).map((t) => [t.runId, t.n]));
  let version = dataVersion();

  const check = () => {
    const now = dataVersion();
    if (now === version) return;
    version = now;
    for (const row of changedRuns.all(since) as { id: number; at: string }[]) {
      if (row.at === since && seenAtSince.has(row.id)) continue;
      if (row.at !== since) {
        since = row.at;
        seenAtSince = new Set();
      }
      seenAtSince.add(row.id);
      try {
        deps.events.emit('run.updated', { run: deps.runs.get(row.id) });
      } catch {
        // Deleted between the two reads: nothing to show.
      }
    }
    const next = new Map<number, number>();
    for (const t of metricTotals.all() as Totals[]) {
      next.set(t.runId, t.n);
      const before = counts.get(t.runId) ?? 0;
      if (t.n > before) {
        deps.events.emit('metrics.appended', { runId: t.runId, count: t.n - before, names: [...new Set(t.names.split(','))], lastStep: t.lastStep });
      }
    }
    counts = next;
  };

  const timer = setInterval(() => {
    try {
      check();
    } catch {
      // A closed store or a busy database: the next tick tries again.
    }
  }, intervalMs);
  timer.unref?.();
  return () => clearInterval(timer);
}

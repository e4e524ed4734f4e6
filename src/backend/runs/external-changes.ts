import type { EventMap } from '../../shared/contract';
import type { EventHub } from '../events';
import type { Store } from '../store';
import { ChangesRepository } from '../store/changes';
import type { RunsService } from './runs';

/**
 * Runs and metrics written by ANOTHER process on the same home (a `brainsynth train` in a
 * terminal, a second app window) do not pass through this process's services, so nothing would
 * push them to the page. SQLite's `data_version` changes exactly when another connection
 * committed; when it does, this looks for runs changed since the last look and metric series that
 * grew, and emits the same `run.updated` / `metrics.appended` events as our own writes.
 */
export function watchExternalRunChanges(deps: { store: Store; events: EventHub<EventMap>; runs: RunsService }, intervalMs = 1000): () => void {
  const repo = new ChangesRepository(deps.store);
  let since = repo.latestRunUpdate();
  // Runs already reported at exactly `since` (timestamps can tie).
  let seenAtSince = new Set(repo.runsUpdatedSince(since).map((r) => r.id));
  let counts = new Map(repo.metricTotals().map((t) => [t.runId, t.n]));
  let version = repo.dataVersion();

  const check = () => {
    const now = repo.dataVersion();
    if (now === version) return;
    version = now;
    for (const row of repo.runsUpdatedSince(since)) {
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
    for (const t of repo.metricTotals()) {
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

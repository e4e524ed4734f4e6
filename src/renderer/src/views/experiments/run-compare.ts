/** Pure helpers of the runs table and its compare panels (no Vue, no API; unit-tested in Node). */
import { keyMetrics } from '../../api/key-metrics';
import type { RunRow } from '../../api/types';
import { flattenConfig } from '../../format';

/** Which compare a run can join: evaluations (metric tables) or training runs (curves + config). */
export function compareKind(run: Pick<RunRow, 'stage' | 'status'>): 'evaluation' | 'training' | null {
  if (run.stage === 'evaluation') return run.status === 'completed' ? 'evaluation' : null;
  // A training run has curves to overlay once it has started.
  return run.status === 'created' || run.status === 'queued' ? null : 'training';
}

/** The value the "Key metrics" column sorts by: the first key metric (train loss, or PSNR). */
export function primaryKeyValue(run: Pick<RunRow, 'stage' | 'summary'>): number | null {
  return keyMetrics(run.stage, run.summary ?? [])[0]?.value ?? null;
}

export interface ConfigDiffRow {
  path: string;
  /** One formatted value per run, '—' where the run's config lacks the key. */
  values: string[];
}

/** The config leaves whose values differ between the runs (all of them when `all`). */
export function configDiff(configs: readonly unknown[], all = false): ConfigDiffRow[] {
  const perRun = configs.map((c) => new Map(flattenConfig(c).filter((r) => r.value !== null).map((r) => [r.path, r.value!])));
  const paths = [...new Set(perRun.flatMap((m) => [...m.keys()]))];
  const rows = paths.map((path) => ({ path, values: perRun.map((m) => m.get(path) ?? '—') }));
  return all ? rows : rows.filter((r) => new Set(r.values).size > 1);
}

/** Metric names every picked run logs, for the compare chart's metric choice (the shared loss first). */
export function commonMetricNames(namesPerRun: readonly (readonly string[])[], preferred: string | null): string[] {
  if (namesPerRun.length === 0) return [];
  const [first, ...rest] = namesPerRun;
  const common = [...new Set(first)].filter((n) => rest.every((names) => names.includes(n))).sort();
  if (preferred && common.includes(preferred)) return [preferred, ...common.filter((n) => n !== preferred)];
  return common;
}

/**
 * Pure table logic for evaluation results (run page, Experiments compare) and the Generate view's
 * per-slice metrics: which columns, in which order, mean ± std text, which value is best.
 */
import type { EvaluationResults } from '../../../../shared/contract';
import { metricGoal } from '../../../../shared/metric-goal';

/** One metric column of an evaluation (the IPC contract's EvaluationMetricStats). */
export type MetricStats = EvaluationResults['model'][number];

/** The parts of evaluation results these tables read. */
export type EvaluationLike = Pick<
  EvaluationResults,
  'runId' | 'runName' | 'modelRunId' | 'split' | 'images' | 'model' | 'baselines' | 'secondsPerSlice' | 'steps'
> & { stage?: EvaluationResults['stage'] };

/** The reference's three metrics first, then lesion-aware variants, then anything else by name. */
const RANK = ['psnr', 'mae', 'ms_ssim', 'ssim'];
export function metricRank(name: string): number {
  const base = name.replace(/_(nonlesion|lesion)$/, '');
  const region = name.endsWith('_nonlesion') ? 2 : name.endsWith('_lesion') ? 1 : 0;
  const i = RANK.indexOf(base);
  return region * 100 + (i >= 0 ? i : 50);
}

export function sortMetricNames(names: Iterable<string>): string[] {
  return [...new Set(names)].sort((a, b) => metricRank(a) - metricRank(b) || a.localeCompare(b));
}

const LABELS: Record<string, string> = { psnr: 'PSNR', mae: 'MAE', ms_ssim: 'MS-SSIM', ssim: 'SSIM', ms_ssim_diversity: 'MS-SSIM diversity' };
/** 'psnr_lesion' -> 'PSNR (lesion)', 'ms_ssim' -> 'MS-SSIM', 'frechet_distance[net:layer]' -> 'Fréchet distance (net:layer)'. */
export function metricLabel(name: string): string {
  const fd = /^frechet_distance\[(.+)\]$/.exec(name);
  if (fd) return `Fréchet distance (${fd[1]})`;
  const m = /^(.*?)(?:_(nonlesion|lesion))?$/.exec(name)!;
  const base = LABELS[m[1]!] ?? m[1]!;
  return m[2] ? `${base} (${m[2] === 'lesion' ? 'lesion' : 'outside lesion'})` : base;
}

const METHOD_LABELS: Record<string, string> = {
  model: 'Model (ControlNet)',
  baseline_lut: 'Baseline: intensity LUT',
  baseline_histmatch: 'Baseline: inverted + histogram-matched FLAIR',
  ceiling_autoencoder: 'Ceiling: autoencoder reconstruction of the real T1w',
  posterior_mean: 'Posterior mean of K samples',
};
const MODEL_LABELS: Record<string, string> = { autoencoder: 'Autoencoder reconstruction', ldm: 'LDM samples', controlnet: 'Model (ControlNet)' };
export function methodLabel(method: string, stage?: string): string {
  if (method === 'model' && stage) return MODEL_LABELS[stage] ?? METHOD_LABELS.model!;
  return METHOD_LABELS[method] ?? method.replace(/^baseline_/, 'Baseline: ');
}

/** Significant digits that suit each metric: PSNR in dB with 2 decimals, the rest 4 digits. */
export function formatValue(name: string, value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  if (name.startsWith('psnr')) return value.toFixed(2);
  return Math.abs(value) >= 1e-3 || value === 0 ? value.toFixed(4) : value.toExponential(2);
}

export function formatMeanStd(name: string, s: (Pick<MetricStats, 'mean' | 'std'> & { n?: number }) | undefined): string {
  if (!s || s.mean === null) return '—';
  // A single value (a Frechet distance over the whole sample set) has no spread to show.
  return s.std === null || (s.n !== undefined && s.n <= 1) ? formatValue(name, s.mean) : `${formatValue(name, s.mean)} ± ${formatValue(name, s.std)}`;
}

export interface MethodRow {
  /** 'model' or the baseline key. */
  method: string;
  label: string;
  stats: Record<string, MetricStats>;
}

/** One row per method (model first, then baselines by name) with its stats by metric name. */
export function methodRows(r: Pick<EvaluationLike, 'model' | 'baselines' | 'stage'>): MethodRow[] {
  const byName = (list: MetricStats[]) => Object.fromEntries(list.map((s) => [s.name, s]));
  return [
    { method: 'model', label: methodLabel('model', r.stage), stats: byName(r.model) },
    ...Object.keys(r.baselines)
      .sort()
      .map((b) => ({ method: b, label: methodLabel(b), stats: byName(r.baselines[b]!) })),
  ];
}

/** Metric columns present in any of the results (model or baseline), in display order. */
export function metricNames(results: readonly Pick<EvaluationLike, 'model' | 'baselines'>[]): string[] {
  return sortMetricNames(results.flatMap((r) => [...r.model, ...Object.values(r.baselines).flat()].map((s) => s.name)));
}

/** Index of the best value among `values` for metric `name` (null when none is finite). */
export function bestIndex(name: string, values: readonly (number | null | undefined)[]): number | null {
  const goal = metricGoal(name);
  let best: number | null = null;
  values.forEach((v, i) => {
    if (v === null || v === undefined || !Number.isFinite(v)) return;
    if (best === null || (goal === 'max' ? v > values[best]! : v < values[best]!)) best = i;
  });
  return best;
}

export interface CompareColumn {
  key: string;
  runId: number;
  method: string;
  label: string;
}

export interface CompareRow {
  metric: string;
  label: string;
  goal: 'min' | 'max';
  cells: (MetricStats | undefined)[];
  best: number | null;
}

/**
 * Side-by-side compare: one column per (run, method), the model before its baselines, and one row
 * per metric with the best mean marked. `methods` limits which methods appear (e.g. model only).
 */
export function compareTable(results: readonly EvaluationLike[], methods: 'all' | 'model' = 'all'): { columns: CompareColumn[]; rows: CompareRow[] } {
  const columns: CompareColumn[] = [];
  const stats: Record<string, MetricStats>[] = [];
  for (const r of results) {
    for (const row of methodRows(r)) {
      if (methods === 'model' && row.method !== 'model') continue;
      columns.push({ key: `${r.runId}/${row.method}`, runId: r.runId, method: row.method, label: row.method === 'model' ? `#${r.runId} ${r.runName ?? 'model'}` : `#${r.runId} ${methodLabel(row.method)}` });
      stats.push(row.stats);
    }
  }
  const rows = metricNames(results).map((metric) => {
    const cells = stats.map((s) => s[metric]);
    return { metric, label: metricLabel(metric), goal: metricGoal(metric), cells, best: bestIndex(metric, cells.map((c) => c?.mean)) };
  });
  return { columns, rows };
}

/** Download name for exported CSV: brainsynth-eval-<ids>-<kind>.csv. */
export function csvFileName(runIds: readonly number[], kind: 'summary' | 'per-image'): string {
  const ids = runIds.length <= 4 ? runIds.join('-') : `${runIds.slice(0, 3).join('-')}-and-${runIds.length - 3}-more`;
  return `brainsynth-eval-${ids}-${kind}.csv`;
}

import type { MetricSummaryRow } from './types';

const VALIDATION_SPLITS = new Set(['validation', 'val', 'valid']);

export function isValidationSplit(split: string): boolean {
  return VALIDATION_SPLITS.has(split.toLowerCase());
}

/**
 * The loss a run list shows for a split: the total `loss` the reference logs for every stage, else
 * the first `*_loss` (alphabetically, so the choice is stable), else nothing.
 */
export function keyLoss(summary: readonly MetricSummaryRow[] | null, split: 'train' | 'validation'): MetricSummaryRow | null {
  if (!summary) return null;
  const inSplit = summary.filter((m) => (split === 'train' ? m.split.toLowerCase() === 'train' : isValidationSplit(m.split)));
  const total = inSplit.find((m) => m.name === 'loss');
  if (total) return total;
  const partial = inSplit.filter((m) => m.name.endsWith('_loss')).sort((a, b) => a.name.localeCompare(b.name));
  return partial[0] ?? null;
}

/** Rows for the run page's metric table: grouped by metric name, train before validation before others. */
export function orderMetricRows(summary: readonly MetricSummaryRow[]): MetricSummaryRow[] {
  const splitRank = (split: string): number => (split.toLowerCase() === 'train' ? 0 : isValidationSplit(split) ? 1 : 2);
  return [...summary].sort(
    (a, b) => a.name.localeCompare(b.name) || splitRank(a.split) - splitRank(b.split) || a.split.localeCompare(b.split),
  );
}

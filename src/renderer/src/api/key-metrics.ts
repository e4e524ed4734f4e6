import { isValidationSplit } from '../../../shared/key-metrics';
import type { MetricSummaryRow } from './types';

export { isValidationSplit } from '../../../shared/key-metrics';
export { keyMetrics, trainingKeyMetrics, evaluationKeyMetrics } from '../../../shared/key-metrics';

/** Rows for the run page's metric table: grouped by metric name, train before validation before others. */
export function orderMetricRows(summary: readonly MetricSummaryRow[]): MetricSummaryRow[] {
  const splitRank = (split: string): number => (split.toLowerCase() === 'train' ? 0 : isValidationSplit(split) ? 1 : 2);
  return [...summary].sort(
    (a, b) => a.name.localeCompare(b.name) || splitRank(a.split) - splitRank(b.split) || a.split.localeCompare(b.split),
  );
}

import type { RunRow } from '../../api/types';

/**
 * The Experiments view's filter box: `#12` or `12` finds that run; any other text matches part
 * of the name, dataset, backend, status, stage, a tag or the notes (case-insensitive).
 */
export function matchesSearch(run: Pick<RunRow, 'id' | 'name' | 'datasetName' | 'backend' | 'status' | 'stage' | 'tags' | 'notes'>, query: string): boolean {
  const q = query.trim().toLowerCase();
  if (!q) return true;
  if (/^#?\d+$/.test(q)) return String(run.id) === q.replace('#', '');
  const fields = [run.name, run.datasetName, run.backend, run.status, run.stage, run.notes, ...run.tags];
  return fields.some((field) => field?.toLowerCase().includes(q));
}

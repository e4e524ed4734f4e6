/** Sorting rules shared by DataTable and its tests: empty values always sink to the bottom. */
export type SortDirection = 'asc' | 'desc';
export type SortValue = string | number | null | undefined;

export interface SortState {
  key: string;
  direction: SortDirection;
}

export function compareSortValues(a: SortValue, b: SortValue, direction: SortDirection): number {
  const aEmpty = a === null || a === undefined || (typeof a === 'number' && Number.isNaN(a));
  const bEmpty = b === null || b === undefined || (typeof b === 'number' && Number.isNaN(b));
  if (aEmpty || bEmpty) return aEmpty === bEmpty ? 0 : aEmpty ? 1 : -1;
  const sign = direction === 'asc' ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return sign * (a - b);
  return sign * String(a).localeCompare(String(b), undefined, { numeric: true, sensitivity: 'base' });
}

/** Stable sort (ties keep their incoming order) that does not mutate `rows`. */
export function sortRows<T>(rows: readonly T[], valueOf: (row: T) => SortValue, direction: SortDirection): T[] {
  return rows
    .map((row, index) => ({ row, index, value: valueOf(row) }))
    .sort((x, y) => compareSortValues(x.value, y.value, direction) || x.index - y.index)
    .map((entry) => entry.row);
}

/** Clicking the sorted column flips it; clicking another column starts at that column's default. */
export function nextSort(current: SortState | null, key: string, defaultDirection: SortDirection = 'asc'): SortState {
  if (current && current.key === key) return { key, direction: current.direction === 'asc' ? 'desc' : 'asc' };
  return { key, direction: defaultDirection };
}

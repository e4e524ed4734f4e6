import { describe, expect, it } from 'vitest';
import { compareSortValues, nextSort, sortRows } from '../../src/renderer/src/components/table-sort';

describe('DataTable sorting', () => {
  it('sorts numbers numerically and strings naturally, in both directions', () => {
    expect(sortRows([10, 9, 100], (v) => v, 'asc')).toEqual([9, 10, 100]);
    expect(sortRows(['run 10', 'run 9', 'Run 100'], (v) => v, 'asc')).toEqual(['run 9', 'run 10', 'Run 100']);
    expect(sortRows(['b', 'a', 'c'], (v) => v, 'desc')).toEqual(['c', 'b', 'a']);
  });

  it('keeps empty values (null, undefined, NaN) at the bottom whatever the direction', () => {
    const rows = [{ v: null }, { v: 2 }, { v: Number.NaN }, { v: 1 }, { v: undefined }];
    expect(sortRows(rows, (r) => r.v, 'asc').map((r) => r.v).slice(0, 2)).toEqual([1, 2]);
    expect(sortRows(rows, (r) => r.v, 'desc').map((r) => r.v).slice(0, 2)).toEqual([2, 1]);
    expect(compareSortValues(null, 5, 'desc')).toBeGreaterThan(0);
  });

  it('is stable and does not mutate its input', () => {
    const rows = [
      { id: 1, stage: 'ldm' },
      { id: 2, stage: 'autoencoder' },
      { id: 3, stage: 'ldm' },
    ];
    const copy = structuredClone(rows);
    expect(sortRows(rows, (r) => r.stage, 'asc').map((r) => r.id)).toEqual([2, 1, 3]);
    expect(rows).toEqual(copy);
  });

  it('flips direction on the sorted column and starts a new column at its default', () => {
    expect(nextSort(null, 'name')).toEqual({ key: 'name', direction: 'asc' });
    expect(nextSort({ key: 'name', direction: 'asc' }, 'name')).toEqual({ key: 'name', direction: 'desc' });
    expect(nextSort({ key: 'name', direction: 'desc' }, 'created', 'desc')).toEqual({ key: 'created', direction: 'desc' });
  });
});

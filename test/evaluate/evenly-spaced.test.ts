import { describe, expect, it } from 'vitest';
import { evenlySpacedIndices } from '../../src/ml/sample/evaluation';

describe('evaluate --limit K', () => {
  it('spreads K slices through the split instead of taking the first K', () => {
    // 97 test slices of one subject (a brain band), K = 4: one from each quarter, not 0..3.
    expect(evenlySpacedIndices(97, 4)).toEqual([12, 36, 60, 84]);
    expect(evenlySpacedIndices(10, 1)).toEqual([5]);
  });

  it('takes every slice, in order, when K is at least the split size', () => {
    expect(evenlySpacedIndices(5, 5)).toEqual([0, 1, 2, 3, 4]);
    expect(evenlySpacedIndices(5, 50)).toEqual([0, 1, 2, 3, 4]);
    expect(evenlySpacedIndices(5, 0)).toEqual([]);
  });

  it('never repeats or skips past the end', () => {
    for (const [count, k] of [[7, 3], [100, 99], [3, 2], [1000, 12]] as const) {
      const idx = evenlySpacedIndices(count, k);
      expect(idx).toHaveLength(k);
      expect(new Set(idx).size).toBe(k);
      expect(Math.max(...idx)).toBeLessThan(count);
      expect(idx).toEqual([...idx].sort((a, b) => a - b));
    }
  });
});

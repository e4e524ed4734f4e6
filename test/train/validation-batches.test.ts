import { describe, expect, it } from 'vitest';
import { validationBatches } from '../../src/ml/train/data';

describe('validation batches', () => {
  it('a capped validation spreads its slices through the whole split, not its first batches', () => {
    // 95 slices stored bottom to top; 4 batches of 8 = 32 slices, from the skull base to the vertex.
    const batches = validationBatches(95, 8, 4);
    expect(batches.map((b) => b.length)).toEqual([8, 8, 8, 8]);
    const all = batches.flat();
    expect(new Set(all).size).toBe(32);
    expect(all[0]).toBeLessThan(3);
    expect(all[all.length - 1]).toBeGreaterThan(91);
    expect(all).toEqual([...all].sort((a, b) => a - b));
  });

  it('uncapped, or capped above the split, it is every slice once in order', () => {
    const every = Array.from({ length: 10 }, (_, i) => i);
    expect(validationBatches(10, 4, 0)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    expect(validationBatches(10, 4, 5).flat()).toEqual(every);
    expect(validationBatches(0, 4, 2)).toEqual([]);
  });
});

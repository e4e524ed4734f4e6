import { describe, expect, it } from 'vitest';
import { uprightGray } from '../../src/ml/io/png';

describe('uprightGray', () => {
  it('turns a stored slice (rows = x, columns = posterior -> anterior) anterior-up, patient left on the left', () => {
    // 2 rows (x) by 3 columns (y): value = 10 * row + column.
    const stored = { height: 2, width: 3, data: Float32Array.from([0, 1, 2, 10, 11, 12]) };
    const up = uprightGray(stored);
    expect([up.width, up.height]).toEqual([2, 3]);
    // Top row: the most anterior column (y = 2), from the last stored row to the first.
    expect(Array.from(up.data)).toEqual([12, 2, 11, 1, 10, 0]);
  });
});

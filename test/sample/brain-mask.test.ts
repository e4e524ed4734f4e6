import { describe, expect, it } from 'vitest';
import { conditionBrainMask, maskToConditionBrain } from '../../src/ml/sample/brain-mask';

/** Rows of '#' (signal), '.' (zero) into a height x width slice. */
function slice(rows: string[]): Float32Array {
  return Float32Array.from(rows.join('').split(''), (c) => (c === '#' ? 0.5 : 0));
}

function maskRows(m: Uint8Array, width: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < m.length; i += width) out.push(Array.from(m.subarray(i, i + width), (v) => (v ? '1' : '0')).join(''));
  return out;
}

describe("the FLAIR's brain mask", () => {
  it('keeps signal and the zero pixels it encloses; zero pixels reaching the border are background', () => {
    const flair = slice([
      '.......',
      '.#####.',
      '.#..#..', // (2, 5) reaches the border through (2, 6): background; (2, 2..3) are enclosed
      '.#####.',
      '.......',
    ]);
    expect(maskRows(conditionBrainMask(flair, 5, 7), 7)).toEqual(['0000000', '0111110', '0111100', '0111110', '0000000']);
  });

  it('4-connectivity: a diagonal gap in the outline does not let the background in', () => {
    const flair = slice(['.....', '.##..', '.#.#.', '..##.', '.....']);
    expect(maskRows(conditionBrainMask(flair, 5, 5), 5)).toEqual(['00000', '01100', '01110', '00110', '00000']);
  });

  it('a slice with no signal is all background; signal touching the border stays', () => {
    expect([...conditionBrainMask(new Float32Array(12), 3, 4)].every((v) => v === 0)).toBe(true);
    expect(maskRows(conditionBrainMask(slice(['##..', '#...', '....']), 3, 4), 4)).toEqual(['1100', '1000', '0000']);
  });

  it('zeroes each image outside its own FLAIR slice and leaves the inside untouched', () => {
    const flair = new Float32Array([...slice(['....', '.##.', '....']), ...slice(['#...', '....', '...#'])]);
    const images = Float32Array.from({ length: 24 }, (_, i) => 0.1 + i / 100);
    const before = images.slice();
    maskToConditionBrain(images, flair, 2, 3, 4);
    const kept = [...images].flatMap((v, i) => (v !== 0 ? [i] : []));
    expect(kept).toEqual([5, 6, 12, 23]);
    for (const i of kept) expect(images[i]).toBe(before[i]);
  });

  it('names the sizes when the arrays do not match', () => {
    expect(() => conditionBrainMask(new Float32Array(10), 3, 4)).toThrow(/one 3x4 slice \(12 values\), got 10/);
    expect(() => maskToConditionBrain(new Float32Array(24), new Float32Array(12), 2, 3, 4)).toThrow(/2 images and 2 FLAIR slices of 3x4, got 24 and 12/);
  });
});

import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/ml/util/rng';

describe('seeded rng', () => {
  it('is reproducible from its seed and differs between seeds', () => {
    const a = Rng.fromSeed(42);
    const b = Rng.fromSeed(42);
    const c = Rng.fromSeed(43);
    const sa = Array.from({ length: 20 }, () => a.nextUint32());
    const sb = Array.from({ length: 20 }, () => b.nextUint32());
    const sc = Array.from({ length: 20 }, () => c.nextUint32());
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
  });

  it('resumes exactly from a serialised state, including a cached normal', () => {
    const a = Rng.fromSeed(7);
    a.normal(); // leaves the second Box-Muller value cached
    const saved = JSON.parse(JSON.stringify(a.getState()));
    const expected = [a.normal(), a.uniform(), a.int(1000), a.normal()];
    const b = Rng.fromState(saved);
    expect([b.normal(), b.uniform(), b.int(1000), b.normal()]).toEqual(expected);
  });

  it('draws uniform and normal values with the right moments', () => {
    const r = Rng.fromSeed(1);
    const n = 50_000;
    let su = 0;
    let sn = 0;
    let sn2 = 0;
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < n; i++) {
      const u = r.uniform();
      lo = Math.min(lo, u);
      hi = Math.max(hi, u);
      su += u;
      const z = r.normal();
      sn += z;
      sn2 += z * z;
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    expect(su / n).toBeCloseTo(0.5, 2);
    expect(sn / n).toBeCloseTo(0, 1);
    expect(sn2 / n).toBeCloseTo(1, 1);
  });

  it('int covers the whole range without bias and permutation is a permutation', () => {
    const r = Rng.fromSeed(3);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 20_000; i++) counts[r.int(10)]++;
    for (const c of counts) expect(Math.abs(c - 2000)).toBeLessThan(200);
    expect(r.permutation(50).slice().sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('refuses a malformed state', () => {
    expect(() => Rng.fromState({ s: [1, 2, 3] as unknown as [number, number, number, number], spare: null })).toThrow(/rng state/);
  });
});

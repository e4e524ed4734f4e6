/**
 * Subject-level, seeded, deterministic train/validation/test split. Every session and slice of a
 * subject lands in the subject's split (as the reference split by subject folder).
 */
export type SplitName = 'train' | 'validation' | 'test';
export const SPLITS: readonly SplitName[] = ['train', 'validation', 'test'];

export type SplitFractions = [number, number, number];

/** mulberry32: tiny, fast, well-distributed 32-bit PRNG; enough for shuffles and phantoms. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function parseSplitFractions(text: string): SplitFractions {
  const parts = text.split(',').map((p) => Number(p.trim()));
  if (parts.length !== 3 || parts.some((p) => !Number.isFinite(p) || p < 0)) {
    throw new Error(`--split ${text}: expected three non-negative numbers such as 0.8,0.1,0.1`);
  }
  const sum = parts[0]! + parts[1]! + parts[2]!;
  if (Math.abs(sum - 1) > 1e-6) throw new Error(`--split ${text}: fractions must sum to 1 (they sum to ${sum})`);
  return parts as SplitFractions;
}

/**
 * Assigns each subject a split. Pinned subjects keep their split; the rest are shuffled with the
 * seed (after sorting, so input order does not matter) and cut by largest-remainder rounding.
 * Every split with a non-zero fraction gets at least one subject when there are enough subjects,
 * so small datasets (3 subjects) still get a validation and a test subject.
 */
export function assignSplits(
  subjects: readonly string[],
  fractions: SplitFractions,
  seed: number,
  pinned: Readonly<Record<string, SplitName>> = {},
): Map<string, SplitName> {
  const result = new Map<string, SplitName>();
  for (const [subject, split] of Object.entries(pinned)) {
    if (!subjects.includes(subject)) throw new Error(`pinned subject ${subject} is not in the dataset (have: ${subjects.join(', ')})`);
    result.set(subject, split);
  }
  const free = [...new Set(subjects)].filter((s) => !result.has(s)).sort();
  const rand = mulberry32(seed);
  for (let i = free.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [free[i], free[j]] = [free[j]!, free[i]!];
  }
  const n = free.length;
  const counts = fractions.map((f) => Math.floor(f * n));
  const order = fractions.map((f, i) => ({ i, rem: f * n - Math.floor(f * n) })).sort((a, b) => b.rem - a.rem || a.i - b.i);
  let left = n - counts.reduce((p, c) => p + c, 0);
  for (const { i } of order) {
    if (left <= 0) break;
    counts[i]!++;
    left--;
  }
  // Guarantee presence of each non-zero split (counting pinned subjects) by taking from the largest.
  const pinnedCount = (split: SplitName) => [...result.values()].filter((s) => s === split).length;
  for (let i = 0; i < 3; i++) {
    if (fractions[i]! > 0 && counts[i] === 0 && pinnedCount(SPLITS[i]!) === 0) {
      const donor = counts.indexOf(Math.max(...counts));
      if (counts[donor]! > 1) {
        counts[donor]!--;
        counts[i]!++;
      }
    }
  }
  let k = 0;
  for (let i = 0; i < 3; i++) for (let c = 0; c < counts[i]!; c++) result.set(free[k++]!, SPLITS[i]!);
  return result;
}

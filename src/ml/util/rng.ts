/**
 * Seeded pseudo-random numbers for everything random in training (noise, timesteps, augmentation,
 * prompt dropout, shuffling). xoshiro128** (Blackman & Vigna) on four uint32 words: fast in plain
 * JS, good statistical quality, and its whole state is four integers (plus one cached normal), so
 * it can be written into a checkpoint and a resumed run draws exactly the numbers it would have.
 * JS numbers never match PyTorch's RNG stream; reproducibility is within brainsynth only.
 */

export interface RngState {
  /** xoshiro128** state words (uint32). */
  s: [number, number, number, number];
  /** Second Box-Muller value not yet handed out, or null. */
  spare: number | null;
}

/** splitmix32: spreads a small seed over all 128 state bits (the recommended xoshiro seeding). */
function splitmix32(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

const TWO_POW_32 = 4294967296;

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | null = null;

  private constructor(s: readonly number[], spare: number | null) {
    this.s0 = s[0]! >>> 0;
    this.s1 = s[1]! >>> 0;
    this.s2 = s[2]! >>> 0;
    this.s3 = s[3]! >>> 0;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s3 = 1; // all-zero state is a fixed point
    this.spare = spare;
  }

  /** A generator from an integer seed (any JS integer; values beyond 32 bits are folded in). */
  static fromSeed(seed: number): Rng {
    if (!Number.isFinite(seed)) throw new Error(`rng seed must be a finite number, got ${seed}`);
    const hi = Math.floor(seed / TWO_POW_32);
    const mix = splitmix32((seed >>> 0) ^ Math.imul(hi >>> 0, 0x27d4eb2d));
    return new Rng([mix(), mix(), mix(), mix()], null);
  }

  static fromState(state: RngState): Rng {
    if (!state || !Array.isArray(state.s) || state.s.length !== 4 || state.s.some((w) => !Number.isInteger(w))) {
      throw new Error('rng state must be {s: [4 uint32], spare: number|null}');
    }
    return new Rng(state.s, state.spare ?? null);
  }

  /** A snapshot that fromState() turns back into an identical generator (JSON-safe). */
  getState(): RngState {
    return { s: [this.s0, this.s1, this.s2, this.s3], spare: this.spare };
  }

  /** An independent generator derived from this one's next outputs and a stream label. */
  fork(stream = 0): Rng {
    const mix = splitmix32((this.nextUint32() ^ Math.imul(stream + 1, 0x9e3779b1)) >>> 0);
    return new Rng([mix() ^ this.nextUint32(), mix(), mix(), mix()], null);
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Uniform integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > TWO_POW_32) throw new Error(`rng.int needs an integer 1..2^32, got ${n}`);
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  /** true with probability p. */
  bernoulli(p: number): boolean {
    return this.uniform() < p;
  }

  /** Standard normal (Box-Muller; the second value of each pair is cached in the state). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u1 = this.uniform();
    while (u1 <= 0) u1 = this.uniform();
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  fillNormal(out: Float32Array): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.normal();
    return out;
  }

  fillUniform(out: Float32Array, lo = 0, hi = 1): Float32Array {
    for (let i = 0; i < out.length; i++) out[i] = this.range(lo, hi);
    return out;
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i]!;
      items[i] = items[j]!;
      items[j] = tmp;
    }
    return items;
  }

  /** A shuffled 0..n-1. */
  permutation(n: number): number[] {
    return this.shuffle(Array.from({ length: n }, (_, i) => i));
  }
}

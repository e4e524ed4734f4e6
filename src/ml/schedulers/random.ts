/**
 * Seeded random numbers for reproducible sampling and training (same seed -> same noise on every
 * backend, because the noise is drawn here in JS and only then uploaded as a tensor).
 * xoshiro128** seeded through splitmix32; normals by Box-Muller.
 */
import * as tf from '@tensorflow/tfjs';

export interface NoiseGenerator {
  /** Uniform in [0, 1). */
  uniform(): number;
  /** `count` standard normal draws as float32. */
  normal(count: number): Float32Array;
  /** Integers uniform in [low, high). */
  randint(low: number, high: number, count: number): Int32Array;
  /** A standard normal float32 tensor of the given shape. */
  randn(shape: number[]): tf.Tensor;
}

function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class SeededGenerator implements NoiseGenerator {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | null = null;

  constructor(readonly seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`seed must be a finite number, got ${seed}`);
    // Fold in the high bits so seeds above 2^32 still differ.
    const mix = splitmix32((seed >>> 0) ^ Math.floor(seed / 4294967296));
    this.s0 = mix();
    this.s1 = mix();
    this.s2 = mix();
    this.s3 = mix();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  private nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  uniform(): number {
    // 53 random bits -> [0, 1)
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  private standardNormal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    const u1 = 1 - this.uniform(); // (0, 1]: log is finite
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spareNormal = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  normal(count: number): Float32Array {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = this.standardNormal();
    return out;
  }

  randint(low: number, high: number, count: number): Int32Array {
    if (!(high > low)) throw new Error(`randint: empty range [${low}, ${high})`);
    const out = new Int32Array(count);
    const span = high - low;
    for (let i = 0; i < count; i++) out[i] = low + Math.floor(this.uniform() * span);
    return out;
  }

  randn(shape: number[]): tf.Tensor {
    const size = shape.reduce((a, b) => a * b, 1);
    return tf.tensor(this.normal(size), shape, 'float32');
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export function createGenerator(seed: number): NoiseGenerator {
  return new SeededGenerator(seed);
}

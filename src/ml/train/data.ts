import * as tf from '@tensorflow/tfjs';
import { augmentPaired, type AugmentConfig } from './augment';
import type { Rng } from '../util/rng';

/**
 * Paired FLAIR/T1w slices as trainers consume them: flat row-major [count, H, W] float arrays in
 * [0, 1] (what loadPreparedSlices returns, or what a test synthesises). Batches become NHWC
 * tensors [B, H, W, 1].
 */
export interface SliceSet {
  count: number;
  height: number;
  width: number;
  flair: Float32Array;
  t1w: Float32Array;
}

export interface TrainingData {
  train: SliceSet;
  validation: SliceSet;
  /** Where the slices came from (recorded in the run config). */
  description: string;
  /** How the prepared dataset scaled intensities (recorded with the run); absent for in-memory data. */
  scaling?: { method: string; percentiles: [number, number] | null };
}

export function checkSliceSet(set: SliceSet, what: string): void {
  const n = set.count * set.height * set.width;
  if (set.flair.length !== n || set.t1w.length !== n) {
    throw new Error(`${what}: ${set.count} slices of ${set.height}x${set.width} need ${n} values per modality`);
  }
}

/** The data order of one epoch: a permutation seeded by (run seed, epoch), so resume needs no state. */
export function epochOrder(count: number, seed: number, epoch: number, rngFactory: (seed: number) => Rng): number[] {
  return rngFactory(((seed >>> 0) * 1_000_003 + epoch * 7919) >>> 0).permutation(count);
}

/** k indices spread evenly over a set (figures show central, not just the first, slices). */
export function spreadIndices(count: number, k: number): number[] {
  const n = Math.min(k, count);
  return Array.from({ length: n }, (_, i) => Math.floor(((i + 0.5) * count) / n));
}

/**
 * The validation slices in batches: all of them, or, when capped at `maxBatches` (> 0), that many
 * batches' worth spread evenly through the split. A split is stored slice by slice up the volume,
 * so its first batches alone would validate on the skull base only.
 */
export function validationBatches(count: number, batchSize: number, maxBatches: number): number[][] {
  // spreadIndices(count, count) is every index in order, so one call serves capped and uncapped.
  const indices = spreadIndices(count, maxBatches > 0 ? maxBatches * batchSize : count);
  const out: number[][] = [];
  for (let i = 0; i < indices.length; i += batchSize) out.push(indices.slice(i, i + batchSize));
  return out;
}

export function batchCount(count: number, batchSize: number): number {
  return Math.ceil(count / batchSize);
}

export interface Batch {
  t1w: tf.Tensor4D;
  flair: tf.Tensor4D;
}

/**
 * Builds one NHWC batch from slice indices, augmenting each pair with one shared draw (skip
 * augmentation with cfg null, e.g. for validation). Both modalities are always augmented together
 * so the ControlNet condition stays aligned with its target.
 */
export function makeBatch(set: SliceSet, indices: number[], aug: AugmentConfig | null, rng: Rng | null): Batch {
  const { height: h, width: w } = set;
  const px = h * w;
  const t1w = new Float32Array(indices.length * px);
  const flair = new Float32Array(indices.length * px);
  indices.forEach((idx, b) => {
    const t = set.t1w.subarray(idx * px, (idx + 1) * px);
    const f = set.flair.subarray(idx * px, (idx + 1) * px);
    if (aug && rng) {
      const [ft, ff] = augmentPaired([t, f], h, w, aug, rng);
      t1w.set(ft!, b * px);
      flair.set(ff!, b * px);
    } else {
      t1w.set(t, b * px);
      flair.set(f, b * px);
    }
  });
  return {
    t1w: tf.tensor4d(t1w, [indices.length, h, w, 1]),
    flair: tf.tensor4d(flair, [indices.length, h, w, 1]),
  };
}

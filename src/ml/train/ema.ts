import * as tf from '@tensorflow/tfjs';
import type { StateDict } from '../io';
import { flatConcat, flatGroups, type NamedVariables } from './optim';

/**
 * An exponential moving average of a network's trained weights (Polyak averaging), the weights
 * diffusion models are usually sampled with: at batch 2 and a large learning rate every step moves
 * the weights by a noisy amount, and the average over the last ~1/(1 - decay) steps sits nearer the
 * minimum than any single step's weights.
 *
 * The average is kept as flat tensors (a few groups of concatenated parameters), so an update is
 * one concat and three elementwise kernels per group instead of three per parameter. The decay
 * starts low and rises to `decay` ((1 + n) / (10 + n) after n updates, as TensorFlow's
 * ExponentialMovingAverage does), so the average does not drag the random initialisation along.
 */
export class WeightAverage {
  private updates = 0;
  private readonly groups: { names: string[]; sizes: number[]; shadow: tf.Variable }[] = [];

  constructor(
    private readonly params: NamedVariables,
    readonly decay: number,
  ) {
    if (!(decay > 0 && decay < 1)) throw new Error(`weight-average decay must be in (0, 1), got ${decay}`);
    for (const names of flatGroups(Object.keys(params), (n) => params[n]!.size)) {
      const shadow = tf.variable(tf.tidy(() => this.flat(names)), false);
      this.groups.push({ names, sizes: names.map((n) => params[n]!.size), shadow });
    }
  }

  /** Updates applied so far (restored from a checkpoint on resume). */
  get count(): number {
    return this.updates;
  }

  private flat(names: string[]): tf.Tensor1D {
    return flatConcat(names.map((n) => this.params[n]!));
  }

  /** Folds the current weights into the average (after each optimiser step). */
  update(): void {
    this.updates += 1;
    const d = Math.min(this.decay, (1 + this.updates) / (10 + this.updates));
    for (const g of this.groups) {
      tf.tidy(() => g.shadow.assign(tf.add(g.shadow, tf.mul(tf.sub(this.flat(g.names), g.shadow), 1 - d)) as tf.Tensor1D));
    }
  }

  /** Exchanges the trained weights and the average (twice restores both). */
  private swap(): void {
    for (const g of this.groups) {
      tf.tidy(() => {
        const trained = this.flat(g.names);
        const parts = g.names.length === 1 ? [g.shadow] : tf.split(g.shadow, g.sizes);
        g.names.forEach((n, i) => this.params[n]!.assign(tf.reshape(parts[i]!, this.params[n]!.shape)));
        g.shadow.assign(trained);
      });
    }
  }

  /** Runs `fn` with the averaged weights in the network's variables, then puts the trained ones back. */
  async withAverage<T>(fn: () => Promise<T>): Promise<T> {
    this.swap();
    try {
      return await fn();
    } finally {
      this.swap();
    }
  }

  /**
   * For a checkpoint written while the average is swapped in: the trained weights (the shadow at
   * that moment) under `prefix.` and the update count, so a resumed run goes on exactly.
   */
  async trainedToStateDict(prefix: string, into: StateDict): Promise<void> {
    for (const g of this.groups) {
      const data = (await g.shadow.data()) as Float32Array;
      let offset = 0;
      g.names.forEach((n, i) => {
        const size = g.sizes[i]!;
        into.set(`${prefix}.${n}`, { shape: this.params[n]!.shape.slice(), data: data.slice(offset, offset + size) });
        offset += size;
      });
    }
    into.set(`${prefix}.__updates__`, { shape: [1], data: Float32Array.of(this.updates) });
  }

  /**
   * Resume: the variables hold the checkpoint's model weights (the average); the trained ones come
   * from the state written by trainedToStateDict. A checkpoint without them (written without an
   * average) starts the average from the model weights.
   */
  restore(state: StateDict, prefix: string): void {
    const updates = state.get(`${prefix}.__updates__`);
    if (updates) {
      this.swapIn(state, prefix);
      this.updates = Math.round(updates.data[0]!);
    } else {
      for (const g of this.groups) tf.tidy(() => g.shadow.assign(this.flat(g.names)));
      this.updates = 0;
    }
  }

  private swapIn(state: StateDict, prefix: string): void {
    for (const g of this.groups) {
      tf.tidy(() => {
        g.shadow.assign(this.flat(g.names));
        for (const n of g.names) {
          const t = state.get(`${prefix}.${n}`);
          const p = this.params[n]!;
          if (!t || t.shape.join('x') !== p.shape.join('x')) throw new Error(`checkpoint state has no trained weights for ${n} (shape ${p.shape.join('x')})`);
          p.assign(tf.tensor(t.data, p.shape, 'float32'));
        }
      });
    }
  }

  dispose(): void {
    for (const g of this.groups) g.shadow.dispose();
    this.groups.length = 0;
  }
}

/** `fn` under the average when there is one, else as it is. */
export function averaged<T>(avg: WeightAverage | null, fn: () => Promise<T>): Promise<T> {
  return avg ? avg.withAverage(fn) : fn();
}

/** Where a checkpoint's state keeps the trained weights while its model file holds their average. */
export const TRAINED_PREFIX = 'trained';

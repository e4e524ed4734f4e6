import * as tf from '@tensorflow/tfjs';
import type { StateDict } from '../io';
import type { Rng } from '../util/rng';
import { subDict, withPrefix } from '../pipeline/checkpoint';
import type { Adam, NamedVariables, OptimizerState } from './optim';

/** Helpers the stage runtimes share: parameter maps, optimiser state <-> state dict, noise, readback. */

export interface HasNamedTrainables {
  namedTrainables(): Array<[string, tf.Variable]>;
}

export function namedParams(net: HasNamedTrainables, prefix = ''): NamedVariables {
  const out: NamedVariables = {};
  for (const [name, v] of net.namedTrainables()) out[prefix ? `${prefix}.${name}` : name] = v;
  return out;
}

/** Optimiser state as state-dict entries under `prefix.` (moments + a 1-element step tensor). */
export async function optimizerToStateDict(opt: Adam, prefix: string, into: StateDict): Promise<void> {
  const state = await opt.exportState();
  const sd: StateDict = new Map();
  for (const [k, t] of Object.entries(state.tensors)) sd.set(k, { shape: t.shape, data: t.data });
  sd.set('__step__', { shape: [1], data: Float32Array.of(state.step) });
  withPrefix(sd, prefix, into);
}

export function optimizerFromStateDict(opt: Adam, sd: StateDict, prefix: string): void {
  const sub = subDict(sd, prefix);
  const step = sub.get('__step__');
  if (!step) throw new Error(`checkpoint has no optimiser state "${prefix}"`);
  sub.delete('__step__');
  const tensors: OptimizerState['tensors'] = {};
  for (const [k, t] of sub) tensors[k] = { shape: t.shape, data: t.data };
  opt.importState({ kind: opt.kind, step: Math.round(step.data[0]!), tensors });
}

/** A standard-normal NHWC tensor drawn from the run's RNG (same numbers on every backend). */
export function normalTensor(rng: Rng, shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(rng.fillNormal(new Float32Array(n)), shape, 'float32');
}

/** Reads named scalar tensors back as numbers, then disposes them. */
export async function readScalars(scalars: Record<string, tf.Tensor>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [k, t] of Object.entries(scalars)) {
    out[k] = (await t.data())[0]!;
    t.dispose();
  }
  return out;
}

export function allFinite(values: Record<string, number>): boolean {
  return Object.values(values).every((v) => Number.isFinite(v));
}

export function disposeNamed(tensors: Record<string, tf.Tensor>): void {
  for (const t of Object.values(tensors)) t.dispose();
}

/** NHWC [B, H, W, 1] -> flat [B*H*W] values (async readback). */
export async function readImages(t: tf.Tensor): Promise<Float32Array> {
  const d = await t.data();
  return d instanceof Float32Array ? d : Float32Array.from(d as ArrayLike<number>);
}

import * as tf from '@tensorflow/tfjs';
import { numel, shapeToString, type HostTensor, type StateDict } from '../io/state-dict';
import { hashName, SeededRandom } from './random';

/**
 * Parameter registry keyed by the exact MONAI state_dict names. Specs (name, PyTorch shape, layout,
 * init) are declared when a network is constructed and cost no memory; tf variables exist only
 * after initialize() or loadStateDict(). Inside, tensors use tf layouts (conv [kh,kw,in,out],
 * linear [in,out]); PyTorch layouts exist only at the state_dict boundary.
 */
export type ParamLayout = 'conv2d' | 'linear' | 'plain';

export type InitSpec =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  | { kind: 'uniform'; bound: number }
  | { kind: 'normal'; mean: number; std: number };

export interface ParamSpec {
  /** MONAI state_dict key. */
  name: string;
  /** PyTorch shape (conv [out,in,kh,kw], linear [out,in]). */
  shape: number[];
  layout: ParamLayout;
  init: InitSpec;
  /** Buffers (BatchNorm running statistics) are saved and loaded but neither trained nor counted. */
  role: 'parameter' | 'buffer';
}

export interface LoadOptions {
  /** Missing or unexpected keys are an error when true (default), as in torch's load_state_dict. */
  strict?: boolean;
  /** Names the weights' origin in error messages (a file path). */
  source?: string;
}

export interface LoadReport {
  loaded: string[];
  missing: string[];
  unexpected: string[];
}

export function tfShape(spec: Pick<ParamSpec, 'shape' | 'layout'>): number[] {
  const s = spec.shape;
  if (spec.layout === 'conv2d') return [s[2], s[3], s[1], s[0]];
  if (spec.layout === 'linear') return [s[1], s[0]];
  return s.length === 0 ? [] : [...s];
}

/** PyTorch layout -> tf layout, host side. */
export function torchToTf(layout: ParamLayout, shape: number[], data: Float32Array): Float32Array {
  if (layout === 'conv2d') {
    const [o, i, kh, kw] = shape;
    const out = new Float32Array(data.length);
    for (let a = 0; a < o; a++)
      for (let b = 0; b < i; b++)
        for (let y = 0; y < kh; y++)
          for (let x = 0; x < kw; x++) out[((y * kw + x) * i + b) * o + a] = data[((a * i + b) * kh + y) * kw + x];
    return out;
  }
  if (layout === 'linear') {
    const [o, i] = shape;
    const out = new Float32Array(data.length);
    for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) out[b * o + a] = data[a * i + b];
    return out;
  }
  return data;
}

/** tf layout -> PyTorch layout, host side (`shape` is the PyTorch shape). */
export function tfToTorch(layout: ParamLayout, shape: number[], data: Float32Array): Float32Array {
  if (layout === 'conv2d') {
    const [o, i, kh, kw] = shape;
    const out = new Float32Array(data.length);
    for (let a = 0; a < o; a++)
      for (let b = 0; b < i; b++)
        for (let y = 0; y < kh; y++)
          for (let x = 0; x < kw; x++) out[((a * i + b) * kh + y) * kw + x] = data[((y * kw + x) * i + b) * o + a];
    return out;
  }
  if (layout === 'linear') {
    const [o, i] = shape;
    const out = new Float32Array(data.length);
    for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) out[a * i + b] = data[b * o + a];
    return out;
  }
  return data.slice();
}

function sameShape(spec: ParamSpec, shape: number[]): boolean {
  // torch stores num_batches_tracked as a 0-d tensor; some exporters write it as [1].
  if (spec.shape.length === 0) return numel(shape) === 1 && shape.length <= 1;
  return spec.shape.length === shape.length && spec.shape.every((d, i) => d === shape[i]);
}

function initialValues(spec: ParamSpec, seed: number): Float32Array {
  const n = numel(spec.shape);
  const out = new Float32Array(n);
  const init = spec.init;
  if (init.kind === 'ones') out.fill(1);
  else if (init.kind === 'uniform' || init.kind === 'normal') {
    const rng = new SeededRandom((seed * 1000003) ^ hashName(spec.name));
    if (init.kind === 'uniform') for (let k = 0; k < n; k++) out[k] = (rng.next() * 2 - 1) * init.bound;
    else for (let k = 0; k < n; k++) out[k] = init.mean + init.std * rng.normal();
  }
  return out;
}

export class ParameterStore {
  private readonly specMap = new Map<string, ParamSpec>();
  private readonly variables = new Map<string, tf.Variable>();

  declare(spec: ParamSpec): void {
    if (this.specMap.has(spec.name)) throw new Error(`parameter "${spec.name}" declared twice`);
    this.specMap.set(spec.name, spec);
  }

  /** Every parameter and buffer in MONAI state_dict order, without allocating anything. */
  specs(): ParamSpec[] {
    return [...this.specMap.values()];
  }

  /** Number of trainable scalars (PyTorch's sum(p.numel() for p in parameters())). */
  parameterCount(): number {
    let n = 0;
    for (const s of this.specMap.values()) if (s.role === 'parameter') n += numel(s.shape);
    return n;
  }

  get allocated(): boolean {
    return this.variables.size === this.specMap.size && this.specMap.size > 0;
  }

  get(name: string): tf.Variable {
    const v = this.variables.get(name);
    if (v) return v;
    if (!this.specMap.has(name)) throw new Error(`no parameter named "${name}"`);
    throw new Error(`parameter "${name}" is not allocated: call initialize() or loadStateDict() first`);
  }

  private setValue(spec: ParamSpec, tfData: Float32Array): void {
    const shape = tfShape(spec);
    const existing = this.variables.get(spec.name);
    const t = tf.tensor(tfData, shape, 'float32');
    if (existing) existing.assign(t);
    else this.variables.set(spec.name, tf.variable(t, spec.role === 'parameter'));
    t.dispose();
  }

  /** Allocates (or re-initialises) every tensor from its init spec; deterministic per seed. */
  initialize(seed = 0): void {
    for (const spec of this.specMap.values()) {
      this.setValue(spec, torchToTf(spec.layout, spec.shape, initialValues(spec, seed)));
    }
  }

  /**
   * Loads PyTorch-layout tensors by MONAI name. All problems (missing keys, unexpected keys,
   * shape mismatches) are collected and reported in one error before anything is changed.
   * With strict false, missing keys keep their current (or initial) values and unexpected keys
   * are ignored; shape mismatches are always an error.
   */
  loadStateDict(sd: StateDict, options: LoadOptions = {}): LoadReport {
    const strict = options.strict ?? true;
    const missing: string[] = [];
    const unexpected: string[] = [];
    const mismatched: string[] = [];
    for (const spec of this.specMap.values()) {
      const t = sd.get(spec.name);
      if (!t) missing.push(spec.name);
      else if (!sameShape(spec, t.shape)) mismatched.push(`${spec.name}: expected ${shapeToString(spec.shape)}, got ${shapeToString(t.shape)}`);
      else if (t.data.length !== numel(spec.shape)) mismatched.push(`${spec.name}: shape ${shapeToString(t.shape)} but ${t.data.length} values`);
    }
    for (const k of sd.keys()) if (!this.specMap.has(k)) unexpected.push(k);
    const problems: string[] = [];
    const list = (title: string, items: string[]): void => {
      if (items.length === 0) return;
      const shown = items.slice(0, 20).map((s) => `    ${s}`);
      if (items.length > 20) shown.push(`    ... and ${items.length - 20} more`);
      problems.push(`  ${title} (${items.length}):\n${shown.join('\n')}`);
    };
    if (strict) list('missing keys', missing);
    if (strict) list('unexpected keys', unexpected);
    list('shape mismatches', mismatched);
    if (problems.length > 0) {
      throw new Error(`${options.source ?? 'state_dict'}: cannot load weights:\n${problems.join('\n')}`);
    }
    const loaded: string[] = [];
    for (const spec of this.specMap.values()) {
      const t = sd.get(spec.name);
      if (t) {
        this.setValue(spec, torchToTf(spec.layout, spec.shape, t.data));
        loaded.push(spec.name);
      } else if (!this.variables.has(spec.name)) {
        this.setValue(spec, torchToTf(spec.layout, spec.shape, initialValues(spec, 0)));
      }
    }
    return { loaded, missing, unexpected };
  }

  /** PyTorch-layout copy of every tensor (async: webgpu has no synchronous readback). */
  async stateDict(): Promise<StateDict> {
    const out: StateDict = new Map();
    for (const spec of this.specMap.values()) {
      const data = (await this.get(spec.name).data()) as Float32Array;
      out.set(spec.name, { shape: [...spec.shape], data: tfToTorch(spec.layout, spec.shape, data) } satisfies HostTensor);
    }
    return out;
  }

  /** Trainable variables with their MONAI names, in state_dict order. */
  namedTrainables(): Array<[string, tf.Variable]> {
    const out: Array<[string, tf.Variable]> = [];
    for (const spec of this.specMap.values()) if (spec.role === 'parameter') out.push([spec.name, this.get(spec.name)]);
    return out;
  }

  trainableVariables(): tf.Variable[] {
    return this.namedTrainables().map(([, v]) => v);
  }

  dispose(): void {
    for (const v of this.variables.values()) v.dispose();
    this.variables.clear();
  }
}

/** A name prefix inside a ParameterStore, mirroring PyTorch's module nesting. */
export class Scope {
  constructor(
    readonly store: ParameterStore,
    readonly prefix = '',
  ) {}

  key(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }

  child(name: string | number): Scope {
    return new Scope(this.store, this.key(String(name)));
  }

  param(name: string, shape: number[], layout: ParamLayout, init: InitSpec, role: ParamSpec['role'] = 'parameter'): string {
    const key = this.key(name);
    this.store.declare({ name: key, shape, layout, init, role });
    return key;
  }
}

import * as tf from '@tensorflow/tfjs';
import { ownedVariable } from '../nn/variables';

/**
 * Adam / AdamW with PyTorch semantics over named tf.Variables, global-norm gradient clipping and a
 * serialisable state (step, first and second moments) for checkpoints.
 *
 * Names are the parameters' state_dict names (MONAI names), not tfjs variable names: tfjs names are
 * process-unique and change between runs, while checkpoints must survive a restart.
 */

export type NamedVariables = Record<string, tf.Variable>;
export type NamedTensors = Record<string, tf.Tensor>;

export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** AdamW: decoupled (p -= lr*wd*p). Adam: L2 added to the gradient, as torch.optim.Adam does. */
  weightDecay?: number;
  decoupled?: boolean;
  /** Update flattened parameter groups (default) instead of one tensor at a time; same values. */
  flatten?: boolean;
}

/** A tensor in plain form, for checkpoints (shape + float32 values). */
export interface PlainTensor {
  shape: number[];
  data: Float32Array;
}

export interface OptimizerState {
  kind: 'adam' | 'adamw';
  step: number;
  /** `m.<param>` and `v.<param>` for every parameter that has received a gradient. */
  tensors: Record<string, PlainTensor>;
}

/**
 * Runs f and returns its scalar value plus the gradient of every named parameter it reaches.
 * Parameters f never touches get no entry (and the optimiser leaves them alone, like PyTorch
 * skips parameters whose .grad is None).
 */
export function namedGrads(f: () => tf.Scalar, params: NamedVariables): { value: tf.Scalar; grads: NamedTensors } {
  const names = Object.keys(params);
  const vars = names.map((n) => params[n]!);
  const { value, grads } = tf.variableGrads(f, vars);
  const out: NamedTensors = {};
  names.forEach((name, i) => {
    const g = grads[vars[i]!.name];
    if (g) out[name] = g;
  });
  return { value, grads: out };
}

/** sqrt(sum over all gradients of sum(g^2)), as a scalar tensor (no device readback). */
export function globalNorm(grads: NamedTensors): tf.Scalar {
  return tf.tidy(() => {
    const parts = Object.values(grads).map((g) => tf.sum(tf.square(g)));
    if (parts.length === 0) return tf.scalar(0);
    return tf.sqrt(tf.addN(parts)) as tf.Scalar;
  });
}

/**
 * torch.nn.utils.clip_grad_norm_: scales every gradient by min(1, maxNorm/(norm+1e-6)). Returns the
 * clipped gradients (new tensors; the caller disposes the inputs) and the pre-clip norm.
 */
export function clipByGlobalNorm(grads: NamedTensors, maxNorm: number): { grads: NamedTensors; norm: tf.Scalar } {
  const norm = globalNorm(grads);
  const clipped = tf.tidy(() => {
    const coef = tf.minimum(tf.scalar(1), tf.div(tf.scalar(maxNorm), tf.add(norm, tf.scalar(1e-6))));
    const out: NamedTensors = {};
    for (const [name, g] of Object.entries(grads)) out[name] = tf.mul(g, coef);
    return out;
  });
  return { grads: clipped, norm };
}

/**
 * Most elements in one flattened group: keeps every group's buffer well inside the storage-buffer
 * size GPU backends may bind at once (often 128 MiB), and the update's temporaries (~15 group-sized
 * tensors alive until it ends) to a few hundred MiB.
 */
export const FLAT_GROUP_ELEMENTS = 1 << 22;

/** One flattened parameter group: consecutive parameters whose moments live in two flat vectors. */
interface FlatGroup {
  names: string[];
  sizes: number[];
  m: tf.Variable;
  v: tf.Variable;
}

/** `names` in order, cut into groups of at most FLAT_GROUP_ELEMENTS elements (a larger tensor alone). */
export function flatGroups(names: string[], size: (name: string) => number): string[][] {
  const groups: string[][] = [];
  let current: string[] = [];
  let total = 0;
  for (const name of names) {
    const n = size(name);
    if (current.length > 0 && total + n > FLAT_GROUP_ELEMENTS) {
      groups.push(current);
      current = [];
      total = 0;
    }
    current.push(name);
    total += n;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** Tensors flattened and concatenated into one 1-D tensor (a reshape alone for one). */
export function flatConcat(ts: tf.Tensor[]): tf.Tensor1D {
  return (ts.length === 1 ? tf.reshape(ts[0]!, [-1]) : tf.concat(ts.map((x) => tf.reshape(x, [-1])))) as tf.Tensor1D;
}

export class Adam {
  readonly kind: 'adam' | 'adamw';
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Update flattened parameter groups (a few kernels per group) rather than each tensor alone. */
  readonly flatten: boolean;
  private stepCount = 0;
  // Moments of parameters outside the current flat layout (all of them when not flattening).
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
  private groups: FlatGroup[] = [];
  private layoutKey = '';

  constructor(
    private readonly params: NamedVariables,
    opts: AdamOptions,
  ) {
    if (!(opts.lr > 0)) throw new Error(`optimiser learning rate must be > 0, got ${opts.lr}`);
    this.lr = opts.lr;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0;
    this.kind = opts.decoupled ? 'adamw' : 'adam';
    this.flatten = opts.flatten ?? true;
  }

  get step(): number {
    return this.stepCount;
  }

  /** The parameter names this optimiser updates. */
  get paramNames(): string[] {
    return Object.keys(this.params);
  }

  private moments(name: string, like: tf.Tensor): [tf.Variable, tf.Variable] {
    let m = this.m.get(name);
    let v = this.v.get(name);
    if (!m || !v) {
      m = ownedVariable(tf.zerosLike(like));
      v = ownedVariable(tf.zerosLike(like));
      this.m.set(name, m);
      this.v.set(name, v);
    }
    return [m, v];
  }

  private param(name: string): tf.Variable {
    const p = this.params[name];
    if (!p) throw new Error(`optimiser: gradient for unknown parameter ${name}`);
    return p;
  }

  /** One update from named gradients (the caller keeps ownership of grads). */
  apply(grads: NamedTensors): void {
    const names = Object.keys(grads);
    for (const name of names) this.param(name);
    this.stepCount += 1;
    if (this.flatten) this.applyFlat(names, grads);
    else for (const name of names) this.applyOne(name, grads[name]!);
  }

  /** The update as PyTorch writes it, on any shape: p, m, v and g of one tensor or one flat group. */
  private update(p: tf.Tensor, m: tf.Tensor, v: tf.Tensor, grad: tf.Tensor): { p: tf.Tensor; m: tf.Tensor; v: tf.Tensor } {
    const t = this.stepCount;
    const stepSize = this.lr / (1 - Math.pow(this.beta1, t));
    const sqrtBc2 = Math.sqrt(1 - Math.pow(this.beta2, t));
    let g = grad;
    let p0 = p;
    if (this.weightDecay !== 0) {
      if (this.kind === 'adamw') p0 = tf.mul(p, 1 - this.lr * this.weightDecay);
      else g = tf.add(g, tf.mul(p, this.weightDecay));
    }
    const m1 = tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1));
    const v1 = tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
    const denom = tf.add(tf.div(tf.sqrt(v1), sqrtBc2), this.eps);
    return { p: tf.sub(p0, tf.mul(tf.div(m1, denom), stepSize)), m: m1, v: v1 };
  }

  private applyOne(name: string, grad: tf.Tensor): void {
    const p = this.param(name);
    const [m, v] = this.moments(name, p);
    tf.tidy(() => {
      const next = this.update(p, m, v, grad);
      m.assign(next.m);
      v.assign(next.v);
      p.assign(next.p);
    });
  }

  /**
   * Concatenates each group's parameters and gradients, updates them with one chain of
   * elementwise kernels and splits the result back: per group ~15 kernels plus one slice per
   * parameter, instead of ~13 kernels per parameter (what dominates a GPU step with hundreds of
   * small tensors). Elementwise, so the values equal the per-tensor update exactly.
   */
  private applyFlat(names: string[], grads: NamedTensors): void {
    const key = names.join('\n');
    if (key !== this.layoutKey) this.relayout(names);
    for (const group of this.groups) {
      const ps = group.names.map((n) => this.params[n]!);
      tf.tidy(() => {
        const next = this.update(flatConcat(ps), group.m, group.v, flatConcat(group.names.map((n) => grads[n]!)));
        group.m.assign(next.m as tf.Tensor1D);
        group.v.assign(next.v as tf.Tensor1D);
        const parts = ps.length === 1 ? [next.p] : tf.split(next.p, group.sizes);
        ps.forEach((p, i) => p.assign(tf.reshape(parts[i]!, p.shape)));
      });
    }
  }

  /** Moves every moment out of the flat groups into the per-parameter maps. */
  private unflatten(): void {
    for (const group of this.groups) {
      const ms = group.names.length === 1 ? [group.m.clone()] : tf.split(group.m, group.sizes);
      const vs = group.names.length === 1 ? [group.v.clone()] : tf.split(group.v, group.sizes);
      group.names.forEach((name, i) => {
        const shape = this.params[name]!.shape;
        this.m.set(name, ownedVariable(tf.reshape(ms[i]!, shape)));
        this.v.set(name, ownedVariable(tf.reshape(vs[i]!, shape)));
      });
      tf.dispose([...ms, ...vs]);
      group.m.dispose();
      group.v.dispose();
    }
    this.groups = [];
    this.layoutKey = '';
  }

  /** Groups `names` (in order, each group at most FLAT_GROUP_ELEMENTS) with their moments so far. */
  private relayout(names: string[]): void {
    this.unflatten();
    for (const chunk of flatGroups(names, (n) => this.params[n]!.size)) {
      const sizes = chunk.map((n) => this.params[n]!.size);
      const pieces = (which: Map<string, tf.Variable>) =>
        tf.tidy(() => tf.concat(chunk.map((n, i) => (which.has(n) ? tf.reshape(which.get(n)!, [-1]) : tf.zeros([sizes[i]!])))));
      const m = ownedVariable(pieces(this.m));
      const v = ownedVariable(pieces(this.v));
      for (const n of chunk) {
        this.m.get(n)?.dispose();
        this.v.get(n)?.dispose();
        this.m.delete(n);
        this.v.delete(n);
      }
      this.groups.push({ names: chunk, sizes, m, v });
    }
    this.layoutKey = names.join('\n');
  }

  /** Snapshot for a checkpoint (reads the moments back from the device), one entry per parameter. */
  async exportState(): Promise<OptimizerState> {
    const tensors: Record<string, PlainTensor> = {};
    const put = async (key: string, t: tf.Tensor, shape: number[]) => {
      tensors[key] = { shape: shape.slice(), data: (await t.data()) as Float32Array };
    };
    for (const group of this.groups) {
      let offset = 0;
      for (let i = 0; i < group.names.length; i++) {
        const name = group.names[i]!;
        const size = group.sizes[i]!;
        const [m, v] = [tf.slice(group.m, offset, size), tf.slice(group.v, offset, size)];
        await put(`m.${name}`, m, this.params[name]!.shape);
        await put(`v.${name}`, v, this.params[name]!.shape);
        tf.dispose([m, v]);
        offset += size;
      }
    }
    for (const [name, m] of this.m) {
      await put(`m.${name}`, m, m.shape);
      await put(`v.${name}`, this.v.get(name)!, m.shape);
    }
    return { kind: this.kind, step: this.stepCount, tensors };
  }

  /** Restores a snapshot; moments for unknown parameters or of the wrong shape are refused. */
  importState(state: OptimizerState): void {
    if (state.kind !== this.kind) throw new Error(`optimiser state is ${state.kind}, this optimiser is ${this.kind}`);
    this.disposeMoments();
    this.stepCount = state.step;
    for (const [key, plain] of Object.entries(state.tensors)) {
      const dot = key.indexOf('.');
      const which = key.slice(0, dot);
      const name = key.slice(dot + 1);
      const p = this.params[name];
      if ((which !== 'm' && which !== 'v') || !p) throw new Error(`optimiser state: unexpected entry ${key}`);
      if (p.shape.join('x') !== plain.shape.join('x')) {
        throw new Error(`optimiser state: ${key} has shape [${plain.shape}] but the parameter is [${p.shape}]`);
      }
      const variable = ownedVariable(tf.tensor(plain.data, plain.shape, 'float32'));
      (which === 'm' ? this.m : this.v).set(name, variable);
    }
    for (const name of this.m.keys()) {
      if (!this.v.has(name)) throw new Error(`optimiser state: m.${name} without v.${name}`);
    }
  }

  private disposeMoments(): void {
    for (const group of this.groups) {
      group.m.dispose();
      group.v.dispose();
    }
    this.groups = [];
    this.layoutKey = '';
    for (const t of this.m.values()) t.dispose();
    for (const t of this.v.values()) t.dispose();
    this.m.clear();
    this.v.clear();
  }

  dispose(): void {
    this.disposeMoments();
  }
}

/** torch.optim.Adam (L2 weight decay in the gradient; the reference uses 0). */
export function adam(params: NamedVariables, opts: Omit<AdamOptions, 'decoupled'>): Adam {
  return new Adam(params, { ...opts, decoupled: false });
}

/** torch.optim.AdamW (decoupled weight decay; PyTorch's default 0.01). */
export function adamw(params: NamedVariables, opts: Omit<AdamOptions, 'decoupled'>): Adam {
  return new Adam(params, { weightDecay: 0.01, ...opts, decoupled: true });
}

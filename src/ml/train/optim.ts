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

export class Adam {
  readonly kind: 'adam' | 'adamw';
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  private stepCount = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

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

  /** One update from named gradients (the caller keeps ownership of grads). */
  apply(grads: NamedTensors): void {
    this.stepCount += 1;
    const t = this.stepCount;
    const bc1 = 1 - Math.pow(this.beta1, t);
    const bc2 = 1 - Math.pow(this.beta2, t);
    const stepSize = this.lr / bc1;
    const sqrtBc2 = Math.sqrt(bc2);
    for (const [name, grad] of Object.entries(grads)) {
      const p = this.params[name];
      if (!p) throw new Error(`optimiser: gradient for unknown parameter ${name}`);
      const [m, v] = this.moments(name, p);
      tf.tidy(() => {
        let g: tf.Tensor = grad;
        if (this.weightDecay !== 0) {
          if (this.kind === 'adamw') p.assign(tf.mul(p, 1 - this.lr * this.weightDecay));
          else g = tf.add(g, tf.mul(p, this.weightDecay));
        }
        m.assign(tf.add(tf.mul(m, this.beta1), tf.mul(g, 1 - this.beta1)));
        v.assign(tf.add(tf.mul(v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2)));
        const denom = tf.add(tf.div(tf.sqrt(v), sqrtBc2), this.eps);
        p.assign(tf.sub(p, tf.mul(tf.div(m, denom), stepSize)));
      });
    }
  }

  /** Snapshot for a checkpoint (reads the moments back from the device). */
  async exportState(): Promise<OptimizerState> {
    const tensors: Record<string, PlainTensor> = {};
    for (const [name, m] of this.m) {
      const v = this.v.get(name)!;
      tensors[`m.${name}`] = { shape: m.shape.slice(), data: (await m.data()) as Float32Array };
      tensors[`v.${name}`] = { shape: v.shape.slice(), data: (await v.data()) as Float32Array };
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

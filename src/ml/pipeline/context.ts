import * as tf from '@tensorflow/tfjs';
import { readSafetensors, type HostTensor, type StateDict } from '../io';
import { ownedVariable } from '../nn/variables';
import type { Rng } from '../util/rng';

/**
 * Cross-attention context for the diffusion UNet. The reference encodes one constant prompt with
 * a frozen CLIP text encoder, so its context is constant; without that encoder we
 * either learn a prompt embedding and a null embedding ([tokens, cross_attention_dim] each, trained
 * with the model: prompt dropout swaps in the null embedding, so classifier-free guidance works),
 * or read them from a precomputed context file (safetensors with `prompt` and `null`, optionally
 * `null_infer` for the reference's inference-time "" prompt; [T, D] or [1, T, D]).
 */

export const CONTEXT_KEYS = { prompt: 'prompt', null: 'null', nullInfer: 'null_infer' } as const;

export class ConditioningContext {
  private constructor(
    readonly prompt: tf.Variable,
    readonly nullEmbedding: tf.Variable,
    readonly nullInfer: tf.Variable | null,
    readonly trainable: boolean,
    readonly source: string,
  ) {}

  get tokens(): number {
    return this.prompt.shape[0]!;
  }

  get dim(): number {
    return this.prompt.shape[1]!;
  }

  /** New learned embeddings, N(0, 1) like a LayerNorm-ed text encoder output. */
  static learned(tokens: number, dim: number, rng: Rng): ConditioningContext {
    if (!(tokens >= 1 && dim >= 1)) throw new Error(`context: tokens and dim must be >= 1 (got ${tokens}, ${dim})`);
    const mk = () => ownedVariable(tf.tensor2d(rng.fillNormal(new Float32Array(tokens * dim)), [tokens, dim]), true);
    return new ConditioningContext(mk(), mk(), null, true, 'learned');
  }

  /** From prompt/null tensors (a checkpoint's context.safetensors or a user's context file). */
  static fromStateDict(sd: StateDict, opts: { trainable: boolean; source: string; expectDim?: number }): ConditioningContext {
    const take = (key: string, required: boolean): HostTensor | null => {
      const t = sd.get(key);
      if (!t) {
        if (required) throw new Error(`${opts.source}: context file has no "${key}" tensor (needs "prompt" and "null", [tokens, dim])`);
        return null;
      }
      const shape = t.shape.length === 3 && t.shape[0] === 1 ? t.shape.slice(1) : t.shape;
      if (shape.length !== 2) throw new Error(`${opts.source}: "${key}" has shape [${t.shape}], expected [tokens, dim] or [1, tokens, dim]`);
      if (opts.expectDim !== undefined && shape[1] !== opts.expectDim) {
        throw new Error(`${opts.source}: "${key}" has dim ${shape[1]} but the network's cross_attention_dim is ${opts.expectDim}`);
      }
      return { shape, data: t.data };
    };
    const p = take(CONTEXT_KEYS.prompt, true)!;
    const n = take(CONTEXT_KEYS.null, true)!;
    const ni = take(CONTEXT_KEYS.nullInfer, false);
    if (p.shape.join('x') !== n.shape.join('x')) throw new Error(`${opts.source}: "prompt" [${p.shape}] and "null" [${n.shape}] differ in shape`);
    const v = (t: HostTensor, trainable: boolean) => ownedVariable(tf.tensor2d(t.data, t.shape as [number, number]), trainable);
    return new ConditioningContext(v(p, opts.trainable), v(n, opts.trainable), ni ? v(ni, false) : null, opts.trainable, opts.source);
  }

  static fromFile(path: string, expectDim?: number): ConditioningContext {
    return ConditioningContext.fromStateDict(readSafetensors(path).tensors, { trainable: false, source: path, expectDim });
  }

  /** Trainable variables under checkpoint names (empty when frozen). */
  params(): Record<string, tf.Variable> {
    return this.trainable ? { 'context.prompt': this.prompt, 'context.null': this.nullEmbedding } : {};
  }

  /**
   * [B, T, D] context: row b is the null embedding where dropped[b] (prompt dropout), else the
   * prompt. Differentiable in both embeddings.
   */
  batch(dropped: boolean[]): tf.Tensor3D {
    return tf.tidy(() => {
      const b = dropped.length;
      const mask = tf.tensor3d(
        dropped.map((d) => (d ? 1 : 0)),
        [b, 1, 1],
      );
      const p = tf.expandDims(this.prompt, 0);
      const n = tf.expandDims(this.nullEmbedding, 0);
      return tf.add(tf.mul(p, tf.sub(1, mask)), tf.mul(n, mask)) as tf.Tensor3D;
    });
  }

  /** [B, T, D] of one kind, for sampling (guidance uses both). */
  repeat(kind: 'prompt' | 'null' | 'null_infer', batch: number): tf.Tensor3D {
    return tf.tidy(() => {
      const src = kind === 'prompt' ? this.prompt : kind === 'null_infer' ? (this.nullInfer ?? this.nullEmbedding) : this.nullEmbedding;
      return tf.tile(tf.expandDims(src, 0), [batch, 1, 1]) as tf.Tensor3D;
    });
  }

  async stateDict(): Promise<StateDict> {
    const sd: StateDict = new Map();
    sd.set(CONTEXT_KEYS.prompt, { shape: this.prompt.shape.slice(), data: (await this.prompt.data()) as Float32Array });
    sd.set(CONTEXT_KEYS.null, { shape: this.nullEmbedding.shape.slice(), data: (await this.nullEmbedding.data()) as Float32Array });
    if (this.nullInfer) sd.set(CONTEXT_KEYS.nullInfer, { shape: this.nullInfer.shape.slice(), data: (await this.nullInfer.data()) as Float32Array });
    return sd;
  }

  dispose(): void {
    this.prompt.dispose();
    this.nullEmbedding.dispose();
    this.nullInfer?.dispose();
  }
}

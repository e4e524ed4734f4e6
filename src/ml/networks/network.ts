import type * as tf from '@tensorflow/tfjs';
import type { StateDict } from '../io/state-dict';
import { ParameterStore, Scope, type LoadOptions, type LoadReport, type ParamSpec } from '../nn/parameters';

/**
 * What every network shares: a parameter registry named like MONAI's state_dict. Constructing a
 * network only declares parameters (no tensors), so the reference presets can be inspected in CI;
 * call initialize(seed) or loadStateDict() before running it.
 */
export abstract class Network {
  readonly params = new ParameterStore();
  protected readonly root = new Scope(this.params);

  /** Every tensor (parameters and buffers) in state_dict order, without allocating. */
  parameterSpecs(): ParamSpec[] {
    return this.params.specs();
  }

  /** Trainable scalar count, as sum(p.numel() for p in model.parameters()). */
  parameterCount(): number {
    return this.params.parameterCount();
  }

  initialize(seed = 0): this {
    this.params.initialize(seed);
    return this;
  }

  loadStateDict(sd: StateDict, options?: LoadOptions): LoadReport {
    return this.params.loadStateDict(sd, options);
  }

  stateDict(): Promise<StateDict> {
    return this.params.stateDict();
  }

  trainableVariables(): tf.Variable[] {
    return this.params.trainableVariables();
  }

  namedTrainables(): Array<[string, tf.Variable]> {
    return this.params.namedTrainables();
  }

  dispose(): void {
    this.params.dispose();
  }
}

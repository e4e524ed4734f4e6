import type { StateDict } from '../io/state-dict';
import { AttributeType, DataType, onnxModelType } from './proto';

/**
 * A small ONNX graph builder: nodes in topological order (emitters add them as they compute),
 * weights as initializers under their MONAI state_dict names and shapes, constants under
 * generated names. Every weight it is asked for must exist in the state dict; `unusedWeights`
 * lists what an emitter never asked for, so a missing layer cannot go unnoticed.
 */

/** Standard-domain opset the emitters target (LayerNormalization needs 17). */
export const OPSET = 17;
/** ONNX IR version matching opset 17. */
export const IR_VERSION = 8;

export type Attr =
  | { kind: 'int'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'float'; value: number }
  | { kind: 'floats'; value: number[] }
  | { kind: 'string'; value: string };

export const attr = {
  int: (value: number): Attr => ({ kind: 'int', value }),
  ints: (value: number[]): Attr => ({ kind: 'ints', value }),
  float: (value: number): Attr => ({ kind: 'float', value }),
  floats: (value: number[]): Attr => ({ kind: 'floats', value }),
  string: (value: string): Attr => ({ kind: 'string', value }),
};

/** A dimension: fixed size or a symbolic name (e.g. "batch"). */
export type Dim = number | string;

export interface ValueInfo {
  name: string;
  shape: Dim[];
  type: 'float32' | 'int64';
}

interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name: string;
  attrs: Record<string, Attr>;
}

interface Initializer {
  name: string;
  dims: number[];
  dataType: number;
  raw: Uint8Array;
}

function rawBytes(data: Float32Array | BigInt64Array): Uint8Array {
  // ONNX raw_data is little-endian; so is every platform onnxruntime-node ships for.
  return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

export class OnnxGraph {
  private readonly nodes: NodeSpec[] = [];
  private readonly initializers = new Map<string, Initializer>();
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly used = new Set<string>();
  private readonly constCache = new Map<string, string>();
  private counter = 0;

  constructor(
    readonly name: string,
    private readonly weights: StateDict,
    /** Names in error messages (e.g. the checkpoint file the weights came from). */
    private readonly source = name,
  ) {}

  /** A fresh value name. */
  fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  input(name: string, shape: Dim[], type: ValueInfo['type'] = 'float32'): string {
    this.inputs.push({ name, shape, type });
    return name;
  }

  /** Declares `value` as graph output `name` (an Identity renames it when needed). */
  output(name: string, value: string, shape: Dim[]): void {
    if (value !== name) this.node('Identity', [value], {}, name);
    this.outputs.push({ name, shape, type: 'float32' });
  }

  /** The state_dict tensor `name` as an initializer of the same name and shape. */
  weight(name: string, expectShape?: number[]): string {
    const t = this.weights.get(name);
    if (!t) throw new Error(`${this.source}: weight ${name} is missing (the ONNX graph for ${this.name} needs it)`);
    if (expectShape && (t.shape.length !== expectShape.length || t.shape.some((d, i) => d !== expectShape[i]))) {
      throw new Error(`${this.source}: weight ${name} has shape [${t.shape.join(', ')}], the graph expects [${expectShape.join(', ')}]`);
    }
    if (!this.initializers.has(name)) {
      this.initializers.set(name, { name, dims: [...t.shape], dataType: DataType.FLOAT, raw: rawBytes(t.data) });
      this.used.add(name);
    }
    return name;
  }

  /** Shape of state_dict tensor `name` (throws like weight() when it is missing). */
  weightShape(name: string): number[] {
    const t = this.weights.get(name);
    if (!t) throw new Error(`${this.source}: weight ${name} is missing (the ONNX graph for ${this.name} needs it)`);
    return [...t.shape];
  }

  /** State-dict names no emitter asked for. */
  unusedWeights(): string[] {
    return [...this.weights.keys()].filter((k) => !this.used.has(k));
  }

  /** A float32 constant (deduplicated by value). */
  constF(values: ArrayLike<number>, dims: number[] = [values.length]): string {
    const data = Float32Array.from(values);
    return this.constant(data, dims, DataType.FLOAT, `f:${dims.join('x')}:${data.join(',')}`);
  }

  /** An int64 constant (shapes, axes, pads). */
  constI64(values: number[], dims: number[] = [values.length]): string {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    return this.constant(data, dims, DataType.INT64, `i:${dims.join('x')}:${values.join(',')}`);
  }

  private constant(data: Float32Array | BigInt64Array, dims: number[], dataType: number, key: string): string {
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.fresh('const');
    this.initializers.set(name, { name, dims, dataType, raw: rawBytes(data) });
    this.constCache.set(key, name);
    return name;
  }

  /** Adds a node with one output; returns the output's name. */
  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}, output?: string): string {
    return this.nodeMulti(op, inputs, 1, attrs, output ? [output] : undefined)[0];
  }

  nodeMulti(op: string, inputs: string[], numOutputs: number, attrs: Record<string, Attr> = {}, outputs?: string[]): string[] {
    const outs = outputs ?? Array.from({ length: numOutputs }, () => this.fresh(op.toLowerCase()));
    this.nodes.push({ op, inputs, outputs: outs, name: this.fresh(`n_${op}`), attrs });
    return outs;
  }

  /** Serialises the model (ModelProto bytes). */
  encode(meta: { producerVersion?: string; doc?: string; metadata?: Record<string, string> } = {}): Uint8Array {
    const T = onnxModelType();
    const valueInfo = (v: ValueInfo) => ({
      name: v.name,
      type: {
        tensor_type: {
          elem_type: v.type === 'int64' ? DataType.INT64 : DataType.FLOAT,
          shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dim_value: d } : { dim_param: d })) },
        },
      },
    });
    const attribute = (name: string, a: Attr) => {
      switch (a.kind) {
        case 'int':
          return { name, type: AttributeType.INT, i: a.value };
        case 'ints':
          return { name, type: AttributeType.INTS, ints: a.value };
        case 'float':
          return { name, type: AttributeType.FLOAT, f: a.value };
        case 'floats':
          return { name, type: AttributeType.FLOATS, floats: a.value };
        case 'string':
          return { name, type: AttributeType.STRING, s: new TextEncoder().encode(a.value) };
      }
    };
    const model = T.fromObject({
      ir_version: IR_VERSION,
      opset_import: [{ domain: '', version: OPSET }],
      producer_name: 'brainsynth',
      producer_version: meta.producerVersion ?? '',
      doc_string: meta.doc ?? '',
      metadata_props: Object.entries(meta.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.name,
        node: this.nodes.map((n) => ({
          input: n.inputs,
          output: n.outputs,
          name: n.name,
          op_type: n.op,
          domain: '',
          attribute: Object.entries(n.attrs).map(([k, a]) => attribute(k, a)),
        })),
        initializer: [...this.initializers.values()].map((t) => ({ name: t.name, dims: t.dims, data_type: t.dataType, raw_data: t.raw })),
        input: this.inputs.map(valueInfo),
        output: this.outputs.map(valueInfo),
      },
    });
    return T.encode(model).finish();
  }

  get inputInfo(): readonly ValueInfo[] {
    return this.inputs;
  }

  get outputInfo(): readonly ValueInfo[] {
    return this.outputs;
  }
}

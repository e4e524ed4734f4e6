import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';

/**
 * Perceptual loss with a pluggable, frozen feature network (the reference's LPIPS-squeeze weights
 * are not reachable offline, so the user points at a network).
 *
 * Distance (LPIPS-style, without learned heads): for each tapped feature map, unit-normalise along
 * channels (f / (||f||_2 + 1e-10)), take the squared difference, sum over channels, average over
 * space; sum over taps; mean over the batch. Without LPIPS's learned 1x1 heads every channel counts
 * equally, so the values are NOT comparable with LPIPS numbers — the run config records which
 * network produced them.
 *
 * A perceptual weight of 0 is valid and documented: the autoencoder then trains on L1 + KL
 * (+ adversarial) only and no feature network is loaded.
 */

/** Describes the network a run used; goes into the run config. */
export interface FeatureNetworkInfo {
  name: string;
  /** sha256 over the model description and weight files, in manifest order. */
  sha256: string;
  source: string;
  taps: string[];
}

export interface FeatureNetwork {
  readonly info: FeatureNetworkInfo;
  /**
   * Feature maps for images in [0, 1], layout NHWC with 1 or 3 channels. Gradients flow to the
   * input; the network's own weights never change.
   */
  features(images: tf.Tensor4D): tf.Tensor4D[];
  dispose(): void;
}

/** Unit-normalised feature distance summed over taps, averaged over batch (a scalar). */
export function perceptualDistance(net: FeatureNetwork, a: tf.Tensor4D, b: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => {
    const fa = net.features(a);
    const fb = net.features(b);
    const perTap = fa.map((f, i) => {
      const g = fb[i]!;
      const na = tf.div(f, tf.add(tf.sqrt(tf.sum(tf.square(f), -1, true)), 1e-10));
      const nb = tf.div(g, tf.add(tf.sqrt(tf.sum(tf.square(g), -1, true)), 1e-10));
      // sum over channels, mean over H and W -> [B]
      return tf.mean(tf.sum(tf.squaredDifference(na, nb), -1), [1, 2]);
    });
    return tf.mean(tf.addN(perTap)) as tf.Scalar;
  });
}

export interface LayersFeatureNetworkOptions {
  /** Layer names to tap; default: the last layer at each spatial resolution (up to maxTaps). */
  taps?: string[];
  maxTaps?: number;
  /** How [0,1] images map to the network's input: '[-1,1]' (Keras MobileNet) or '[0,1]'. */
  inputRange?: '[-1,1]' | '[0,1]';
  /** Display name recorded in the run; default: the model folder's name. */
  name?: string;
}

interface ModelJson {
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
}

/**
 * Name and sha256 of a layers model on disk (same hash as LayersFeatureNetwork.info), without
 * building it: what a run config records about its perceptual network.
 */
export async function describeLayersModel(modelJsonPath: string, name?: string): Promise<Omit<FeatureNetworkInfo, 'taps'>> {
  const path = resolve(modelJsonPath);
  const raw = await readFile(path).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`${path}: cannot read feature network (${err.code ?? err.message})`);
  });
  let json: ModelJson;
  try {
    json = JSON.parse(raw.toString('utf8')) as ModelJson;
  } catch (err) {
    throw new Error(`${path}: not JSON (${(err as Error).message})`);
  }
  if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new Error(`${path}: not a TF.js layers model (needs modelTopology and weightsManifest)`);
  }
  const hash = createHash('sha256').update(raw);
  for (const group of json.weightsManifest) {
    for (const p of group.paths) {
      const file = join(dirname(path), p);
      hash.update(
        await readFile(file).catch((err: NodeJS.ErrnoException) => {
          throw new Error(`${file}: weight shard listed in ${basename(path)} cannot be read (${err.code ?? err.message})`);
        }),
      );
    }
  }
  return { name: name ?? basename(dirname(path)), sha256: hash.digest('hex'), source: path };
}

/**
 * Loads a TF.js layers model (model.json + weight shards) from disk without network access or
 * tfjs-node, and checks it is one: anything else is refused with the file named.
 */
async function loadLayersModelFromDisk(modelJsonPath: string): Promise<{ model: tf.LayersModel; sha256: string }> {
  let json: ModelJson;
  const raw = await readFile(modelJsonPath).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`${modelJsonPath}: cannot read feature network (${err.code ?? err.message})`);
  });
  try {
    json = JSON.parse(raw.toString('utf8')) as ModelJson;
  } catch (err) {
    throw new Error(`${modelJsonPath}: not JSON (${(err as Error).message})`);
  }
  if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new Error(`${modelJsonPath}: not a TF.js layers model (needs modelTopology and weightsManifest)`);
  }
  const hash = createHash('sha256').update(raw);
  const dir = dirname(modelJsonPath);
  const buffers: Buffer[] = [];
  const specs: tf.io.WeightsManifestEntry[] = [];
  for (const group of json.weightsManifest) {
    for (const p of group.paths) {
      const file = join(dir, p);
      const buf = await readFile(file).catch((err: NodeJS.ErrnoException) => {
        throw new Error(`${file}: weight shard listed in ${basename(modelJsonPath)} cannot be read (${err.code ?? err.message})`);
      });
      hash.update(buf);
      buffers.push(buf);
    }
    specs.push(...group.weights);
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
  const handler: tf.io.IOHandler = {
    load: async () => ({
      modelTopology: json.modelTopology,
      weightSpecs: specs,
      weightData,
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy ?? undefined,
    }),
  };
  try {
    const model = await tf.loadLayersModel(handler);
    return { model, sha256: hash.digest('hex') };
  } catch (err) {
    throw new Error(`${modelJsonPath}: cannot build the layers model (${(err as Error).message})`);
  }
}

/**
 * A FeatureNetwork on a TF.js LayersModel the user points at (e.g. Keras MobileNet). Layers are
 * applied eagerly one by one in topological order, so any input size works (the saved model's
 * fixed 224x224 input is ignored) and we stop at the last tap instead of running the classifier.
 */
export class LayersFeatureNetwork implements FeatureNetwork {
  private constructor(
    private readonly model: tf.LayersModel,
    readonly info: FeatureNetworkInfo,
    private readonly inputRange: '[-1,1]' | '[0,1]',
    private readonly inChannels: number,
  ) {}

  static async load(modelJsonPath: string, opts: LayersFeatureNetworkOptions = {}): Promise<LayersFeatureNetwork> {
    const path = resolve(modelJsonPath);
    const { model, sha256 } = await loadLayersModelFromDisk(path);
    model.trainable = false;
    const inShape = model.inputs[0]?.shape ?? [];
    const inChannels = (inShape[inShape.length - 1] as number | null) ?? 3;
    const taps = opts.taps ?? defaultTaps(model, opts.maxTaps ?? 5);
    const known = new Set(model.layers.map((l) => l.name));
    for (const t of taps) if (!known.has(t)) throw new Error(`${path}: the model has no layer named "${t}" to tap`);
    if (taps.length === 0) throw new Error(`${path}: no 4-D feature layers found to tap`);
    const name = opts.name ?? basename(dirname(path));
    return new LayersFeatureNetwork(model, { name, sha256, source: path, taps }, opts.inputRange ?? '[-1,1]', inChannels);
  }

  features(images: tf.Tensor4D): tf.Tensor4D[] {
    const taps = new Set(this.info.taps);
    const last = this.info.taps.reduce((acc, t) => Math.max(acc, this.model.layers.findIndex((l) => l.name === t)), -1);
    let x: tf.Tensor = images;
    const c = images.shape[3];
    if (c === 1 && this.inChannels !== 1) x = tf.tile(x, [1, 1, 1, this.inChannels]);
    if (this.inputRange === '[-1,1]') x = tf.sub(tf.mul(x, 2), 1);
    const outputs = new Map<string, tf.Tensor>();
    const found: tf.Tensor4D[] = [];
    this.model.layers.forEach((layer, i) => {
      if (i > last) return;
      const node = layer.inboundNodes[0];
      const inbound = node ? node.inboundLayers : [];
      let out: tf.Tensor;
      if (inbound.length === 0) {
        out = x;
      } else {
        const ins = inbound.map((l) => outputs.get(l.name)!);
        out = layer.apply(ins.length === 1 ? ins[0]! : ins) as tf.Tensor;
      }
      outputs.set(layer.name, out);
      if (taps.has(layer.name)) found.push(out as tf.Tensor4D);
    });
    return found;
  }

  dispose(): void {
    this.model.dispose();
  }
}

/** The last layer at each spatial resolution (deepest features before every downsampling). */
function defaultTaps(model: tf.LayersModel, maxTaps: number): string[] {
  const taps: string[] = [];
  let current: string | null = null;
  let res = '';
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    const shape = layer.outputShape as (number | null)[];
    // The first non-feature-map layer (global pooling, flatten) ends the convolutional trunk.
    if (!Array.isArray(shape) || shape.length !== 4 || Array.isArray(shape[0])) break;
    const key = `${shape[1]}x${shape[2]}`;
    if (key !== res && current) taps.push(current);
    res = key;
    current = layer.name;
  }
  if (current) taps.push(current);
  return taps.slice(0, maxTaps);
}

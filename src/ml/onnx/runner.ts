import * as tf from '@tensorflow/tfjs';
import type * as Ort from 'onnxruntime-node';
import type { StateDict } from '../io/state-dict';
import type { AutoencoderKL } from '../networks/autoencoder-kl';
import type { ControlNet } from '../networks/controlnet';
import type { ControlResiduals, DiffusionModelUNet } from '../networks/diffusion-unet';
import type { OnnxGraph } from './graph';
import { controlledUNetModel, controlNetModel, decoderModel, encoderModel, residualNames, unetModel } from './models';
import { openSession, type OpenedSession, type OrtModule, type SessionOptions } from './runtime';

/**
 * The networks' forward passes on onnxruntime, with the tfjs call shape: NHWC tf tensors in,
 * NHWC tf tensors out (the ONNX graphs are NCHW; the transposes happen here), but async, as
 * onnxruntime-node runs off the JS thread. Graphs are built from the networks' configs and
 * current weights, so a runner reflects the weights at construction time.
 */

async function nchwHost(x: tf.Tensor4D): Promise<{ data: Float32Array; dims: number[] }> {
  const t = tf.transpose(x, [0, 3, 1, 2]);
  try {
    return { data: (await t.data()) as Float32Array, dims: [...t.shape] };
  } finally {
    t.dispose();
  }
}

function nhwcTensor(t: Ort.Tensor): tf.Tensor4D {
  const [b, c, h, w] = t.dims;
  return tf.tidy(() => tf.transpose(tf.tensor4d(t.data as Float32Array, [b, c, h, w]), [0, 2, 3, 1]));
}

async function hostOf(x: tf.Tensor): Promise<{ data: Float32Array; dims: number[] }> {
  return { data: Float32Array.from(await x.data()), dims: [...x.shape] };
}

/** One opened model plus the conversions every runner shares. */
class OnnxModel {
  private constructor(
    private readonly ort: OrtModule,
    readonly opened: OpenedSession,
  ) {}

  static async open(ort: OrtModule, graph: OnnxGraph, opts?: SessionOptions): Promise<OnnxModel> {
    return new OnnxModel(ort, await openSession(ort, graph.encode(), opts));
  }

  tensor(h: { data: Float32Array; dims: number[] }): Ort.Tensor {
    return new this.ort.Tensor('float32', h.data, h.dims);
  }

  async run(feeds: Record<string, { data: Float32Array; dims: number[] }>): Promise<Record<string, Ort.Tensor>> {
    const inputs: Record<string, Ort.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) inputs[k] = this.tensor(v);
    return this.opened.session.run(inputs);
  }

  describe(): string {
    return `onnxruntime ${this.opened.provider}${this.opened.provider === 'cpu' ? `, ${this.opened.threads} threads` : ''}`;
  }

  async release(): Promise<void> {
    await this.opened.session.release();
  }
}

async function timestepFeed(t: tf.Tensor1D): Promise<{ data: Float32Array; dims: number[] }> {
  return { data: Float32Array.from(await t.data()), dims: [t.shape[0]] };
}

/** DiffusionModelUNet.forward on onnxruntime (ControlNet residuals optional). */
export class OnnxUNetRunner {
  private constructor(
    private readonly plain: OnnxModel,
    private readonly withResiduals: OnnxModel | null,
    private readonly names: string[],
  ) {}

  static async create(ort: OrtModule, unet: DiffusionModelUNet, opts: SessionOptions & { residuals?: boolean } = {}): Promise<OnnxUNetRunner> {
    const sd = await unet.stateDict();
    const plain = await OnnxModel.open(ort, unetModel(unet.config, sd), opts);
    const res = opts.residuals ? await OnnxModel.open(ort, unetModel(unet.config, sd, { residualInputs: true }), opts) : null;
    return new OnnxUNetRunner(plain, res, residualNames(unet.config));
  }

  get description(): string {
    return this.plain.describe();
  }

  /** GPU providers skipped or failed on the way to the one in use, with why. */
  get notes(): string[] {
    return this.plain.opened.notes;
  }

  async forward(x: tf.Tensor4D, timesteps: tf.Tensor1D, context?: tf.Tensor3D, residuals?: ControlResiduals): Promise<tf.Tensor4D> {
    const feeds: Record<string, { data: Float32Array; dims: number[] }> = { x: await nchwHost(x), timesteps: await timestepFeed(timesteps) };
    if (context) feeds.context = await hostOf(context);
    let model = this.plain;
    if (residuals) {
      if (!this.withResiduals) throw new Error('onnx unet runner: created without residual inputs (pass residuals: true)');
      model = this.withResiduals;
      const all = [...residuals.down, residuals.mid];
      for (let i = 0; i < all.length; i++) feeds[this.names[i]] = await nchwHost(all[i]);
    }
    return nhwcTensor((await model.run(feeds)).out);
  }

  async dispose(): Promise<void> {
    await this.plain.release();
    await this.withResiduals?.release();
  }
}

/** ControlNet.forward on onnxruntime: residuals for the UNet, NHWC. */
export class OnnxControlNetRunner {
  private constructor(
    private readonly model: OnnxModel,
    private readonly names: string[],
  ) {}

  static async create(ort: OrtModule, cn: ControlNet, opts?: SessionOptions): Promise<OnnxControlNetRunner> {
    return new OnnxControlNetRunner(await OnnxModel.open(ort, controlNetModel(cn.config, await cn.stateDict()), opts), residualNames(cn.config));
  }

  async forward(x: tf.Tensor4D, timesteps: tf.Tensor1D, context: tf.Tensor3D | undefined, cond: tf.Tensor4D, conditioningScale = 1): Promise<ControlResiduals> {
    const feeds: Record<string, { data: Float32Array; dims: number[] }> = {
      x: await nchwHost(x),
      timesteps: await timestepFeed(timesteps),
      controlnet_cond: await nchwHost(cond),
      conditioning_scale: { data: Float32Array.of(conditioningScale), dims: [1] },
    };
    if (context) feeds.context = await hostOf(context);
    const out = await this.model.run(feeds);
    const all = this.names.map((n) => nhwcTensor(out[n]));
    return { down: all.slice(0, -1), mid: all[all.length - 1] };
  }

  async dispose(): Promise<void> {
    await this.model.release();
  }
}

/**
 * unet.forward(x, t, ctx, controlnet.forward(x, t, ctx, cond, scale)) as one onnxruntime graph:
 * what a guided sampling step runs.
 */
export class OnnxControlledUNetRunner {
  private constructor(private readonly model: OnnxModel) {}

  static async create(ort: OrtModule, unet: DiffusionModelUNet, cn: ControlNet, opts?: SessionOptions): Promise<OnnxControlledUNetRunner> {
    const graph = controlledUNetModel(unet.config, await unet.stateDict(), cn.config, await cn.stateDict());
    return new OnnxControlledUNetRunner(await OnnxModel.open(ort, graph, opts));
  }

  get description(): string {
    return this.model.describe();
  }

  get opened(): OpenedSession {
    return this.model.opened;
  }

  async forward(x: tf.Tensor4D, timesteps: tf.Tensor1D, context: tf.Tensor3D | undefined, cond: tf.Tensor4D, conditioningScale = 1): Promise<tf.Tensor4D> {
    const feeds: Record<string, { data: Float32Array; dims: number[] }> = {
      x: await nchwHost(x),
      timesteps: await timestepFeed(timesteps),
      controlnet_cond: await nchwHost(cond),
      conditioning_scale: { data: Float32Array.of(conditioningScale), dims: [1] },
    };
    if (context) feeds.context = await hostOf(context);
    return nhwcTensor((await this.model.run(feeds)).out);
  }

  async dispose(): Promise<void> {
    await this.model.release();
  }
}

/** AutoencoderKL.encode / decode on onnxruntime. */
export class OnnxAutoencoderRunner {
  private constructor(
    private readonly decoder: OnnxModel,
    private readonly encoder: OnnxModel | null,
  ) {}

  static async create(ort: OrtModule, ae: AutoencoderKL, opts: SessionOptions & { encoder?: boolean } = {}): Promise<OnnxAutoencoderRunner> {
    const sd: StateDict = await ae.stateDict();
    const dec = await OnnxModel.open(ort, decoderModel(ae.config, sd), opts);
    const enc = opts.encoder ? await OnnxModel.open(ort, encoderModel(ae.config, sd), opts) : null;
    return new OnnxAutoencoderRunner(dec, enc);
  }

  async decode(z: tf.Tensor4D): Promise<tf.Tensor4D> {
    return nhwcTensor((await this.decoder.run({ z: await nchwHost(z) })).image);
  }

  async encode(x: tf.Tensor4D): Promise<{ mu: tf.Tensor4D; sigma: tf.Tensor4D }> {
    if (!this.encoder) throw new Error('onnx autoencoder runner: created without the encoder (pass encoder: true)');
    const out = await this.encoder.run({ x: await nchwHost(x) });
    return { mu: nhwcTensor(out.z_mu), sigma: nhwcTensor(out.z_sigma) };
  }

  async dispose(): Promise<void> {
    await this.decoder.release();
    await this.encoder?.release();
  }
}

import * as tf from '@tensorflow/tfjs';
import { Conv2d, Convolution, silu, ZEROS } from '../nn/layers';
import type { Scope } from '../nn/parameters';
import { checkKnownKeys, positiveInt, positiveIntList } from './config';
import { DiffusionModelUNet, UNET_ENCODER_KEYS, UNetEncoder, resolveUNetEncoderConfig, type ControlResiduals, type DiffusionUNetConfig, type ResolvedUNetEncoderConfig } from './diffusion-unet';
import { Network } from './network';

/** MONAI GenerativeModels 0.2.2 ControlNet (2-D): the UNet's encoder plus conditioning embedding and zero convs. */
export interface ControlNetConfig extends Omit<DiffusionUNetConfig, 'out_channels'> {
  conditioning_embedding_in_channels?: number;
  conditioning_embedding_num_channels?: number[];
}

export interface ResolvedControlNetConfig extends ResolvedUNetEncoderConfig {
  condInChannels: number;
  condNumChannels: number[];
}

const NET = 'controlnet';

export function resolveControlNetConfig(cfg: ControlNetConfig): ResolvedControlNetConfig {
  checkKnownKeys(NET, cfg, [...UNET_ENCODER_KEYS, 'conditioning_embedding_in_channels', 'conditioning_embedding_num_channels']);
  return {
    ...resolveUNetEncoderConfig(NET, cfg),
    condInChannels: positiveInt(NET, 'conditioning_embedding_in_channels', cfg.conditioning_embedding_in_channels ?? 1),
    condNumChannels: positiveIntList(NET, 'conditioning_embedding_num_channels', cfg.conditioning_embedding_num_channels ?? [16, 32, 96, 256]),
  };
}

/**
 * Conditioning embedding: conv_in (SiLU), then per channel step a conv (SiLU) and a stride-2 conv
 * (SiLU), then conv_out (zero init, no activation) to the UNet's first channel count. Each stride-2
 * conv halves the image, so an image 2^(steps) times the latent size lands on the latent grid.
 */
class ConditioningEmbedding {
  private readonly convIn: Convolution;
  private readonly blocks: Convolution[] = [];
  private readonly convOut: Convolution;

  constructor(scope: Scope, inChannels: number, channels: number[], outChannels: number) {
    this.convIn = new Convolution(scope.child('conv_in'), { inChannels, outChannels: channels[0], kernelSize: 3, padding: 1 });
    for (let i = 0; i < channels.length - 1; i++) {
      const cin = channels[i];
      const cout = channels[i + 1];
      this.blocks.push(new Convolution(scope.child('blocks').child(this.blocks.length), { inChannels: cin, outChannels: cin, kernelSize: 3, padding: 1 }));
      this.blocks.push(new Convolution(scope.child('blocks').child(this.blocks.length), { inChannels: cin, outChannels: cout, kernelSize: 3, padding: 1, stride: 2 }));
    }
    this.convOut = new Convolution(scope.child('conv_out'), {
      inChannels: channels[channels.length - 1],
      outChannels,
      kernelSize: 3,
      padding: 1,
      weightInit: ZEROS,
      biasInit: ZEROS,
    });
  }

  apply(cond: tf.Tensor4D): tf.Tensor4D {
    let h = silu(this.convIn.apply(cond));
    for (const block of this.blocks) h = silu(block.apply(h));
    return this.convOut.apply(h);
  }
}

export class ControlNet extends Network {
  readonly config: ResolvedControlNetConfig;
  readonly encoder: UNetEncoder;
  private condEmbedding!: ConditioningEmbedding;
  private readonly zeroConvs: Conv2d[] = [];
  private midZeroConv!: Convolution;

  constructor(config: ControlNetConfig) {
    super();
    this.config = resolveControlNetConfig(config);
    const c = this.config;
    const zero = (ch: number) => ({ inChannels: ch, outChannels: ch, kernelSize: 1, weightInit: ZEROS, biasInit: ZEROS });
    this.encoder = new UNetEncoder(
      this.root,
      c,
      () => {
        this.condEmbedding = new ConditioningEmbedding(this.root.child('controlnet_cond_embedding'), c.condInChannels, c.condNumChannels, c.numChannels[0]);
      },
      () => {
        // One zero conv per skip-stack entry; MONAI made the first a bare nn.Conv2d (keys without `.conv`).
        const stackChannels: number[] = [c.numChannels[0]];
        for (let i = 0; i < c.numChannels.length; i++) {
          for (let r = 0; r < c.numResBlocks[i]; r++) stackChannels.push(c.numChannels[i]);
          if (i !== c.numChannels.length - 1) stackChannels.push(c.numChannels[i]);
        }
        stackChannels.forEach((ch, i) => {
          const scope = this.root.child('controlnet_down_blocks').child(i);
          this.zeroConvs.push(i === 0 ? new Conv2d(scope, zero(ch)) : new Convolution(scope, zero(ch)));
        });
      },
    );
    const last = c.numChannels[c.numChannels.length - 1];
    this.midZeroConv = new Convolution(this.root.child('controlnet_mid_block'), zero(last));
  }

  /**
   * x NHWC latent, timesteps [B] or [1], context [B,M,D], cond NHWC conditioning image (e.g. FLAIR
   * at 2^k times the latent size). Returns residuals for DiffusionModelUNet.forward, each scaled by
   * conditioningScale.
   */
  forward(x: tf.Tensor4D, timesteps: tf.Tensor1D, context: tf.Tensor3D | undefined, cond: tf.Tensor4D, conditioningScale = 1): ControlResiduals {
    if (this.config.withConditioning && !context) throw new Error('controlnet: this model has with_conditioning=true and needs a context tensor');
    const temb = this.encoder.embedTime(timesteps);
    const condEmb = this.condEmbedding.apply(cond);
    if (condEmb.shape[1] !== x.shape[1] || condEmb.shape[2] !== x.shape[2]) {
      throw new Error(
        `controlnet: conditioning image ${cond.shape[1]}x${cond.shape[2]} embeds to ${condEmb.shape[1]}x${condEmb.shape[2]}, ` +
          `but the latent is ${x.shape[1]}x${x.shape[2]}`,
      );
    }
    const { h, skips } = this.encoder.down(x, temb, context, condEmb);
    const mid = this.encoder.middleBlock.apply(h, temb, context);
    const scale = (t: tf.Tensor4D): tf.Tensor4D => (conditioningScale === 1 ? t : tf.mul(t, conditioningScale));
    return {
      down: skips.map((s, i) => scale(this.zeroConvs[i].apply(s))),
      mid: scale(this.midZeroConv.apply(mid)),
    };
  }

  /**
   * ControlNet initialisation from a trained UNet: load_state_dict(unet.state_dict(), strict=False)
   * copies every tensor whose name exists in both (conv_in, time_embed, down_blocks, middle_block);
   * the conditioning embedding and zero convs keep their values. Returns the copied names.
   */
  async copyFromUnet(unet: DiffusionModelUNet): Promise<string[]> {
    const sd = await unet.stateDict();
    const mine = new Set(this.params.specs().map((s) => s.name));
    for (const k of [...sd.keys()]) if (!mine.has(k)) sd.delete(k);
    return this.loadStateDict(sd, { strict: false, source: 'copyFromUnet' }).loaded;
  }
}

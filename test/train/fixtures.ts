import type { TrainConfig } from '../../src/ml/train/config';
import { defaultLoop, REFERENCE_SCHEDULER } from '../../src/ml/train/config';
import type { SliceSet, TrainingData } from '../../src/ml/train/data';
import { Rng } from '../../src/ml/util/rng';

/** Small synthetic paired slices: soft ellipses ("brains") with a darker core in T1w and a bright rim in FLAIR. */
export function syntheticSlices(count: number, height: number, width: number, seed: number): SliceSet {
  const rng = Rng.fromSeed(seed);
  const px = height * width;
  const t1w = new Float32Array(count * px);
  const flair = new Float32Array(count * px);
  for (let n = 0; n < count; n++) {
    const cy = height / 2 + rng.range(-2, 2);
    const cx = width / 2 + rng.range(-2, 2);
    const ry = height * rng.range(0.3, 0.42);
    const rx = width * rng.range(0.3, 0.42);
    const lesionY = cy + rng.range(-ry / 2, ry / 2);
    const lesionX = cx + rng.range(-rx / 2, rx / 2);
    for (let r = 0; r < height; r++) {
      for (let c = 0; c < width; c++) {
        const d = ((r - cy) / ry) ** 2 + ((c - cx) / rx) ** 2;
        const inside = 1 / (1 + Math.exp((d - 1) * 12));
        const lesion = Math.exp(-(((r - lesionY) ** 2 + (c - lesionX) ** 2) / 4));
        t1w[n * px + r * width + c] = inside * (0.7 - 0.3 * Math.exp(-d * 3)) - 0.2 * lesion * inside;
        flair[n * px + r * width + c] = inside * (0.4 + 0.2 * d) + 0.4 * lesion * inside;
      }
    }
  }
  return { count, height, width, t1w, flair };
}

export function syntheticData(h = 20, w = 28, train = 16, validation = 6): TrainingData {
  return { train: syntheticSlices(train, h, w, 1), validation: syntheticSlices(validation, h, w, 2), description: 'synthetic' };
}

/** Tiny networks on 20x28 slices (x2 autoencoder -> 10x14x2 latent), a few steps per epoch. */
export function tinyConfig(stage: 'autoencoder' | 'ldm' | 'controlnet', over: Partial<TrainConfig['loop']> = {}): TrainConfig {
  const loop = { ...defaultLoop(stage, 'desktop'), epochs: 2, batchSize: 4, checkpointEvery: 3, valEvery: 1, maxStepsPerEpoch: 4, maxValBatches: 1, ...over };
  const unet = {
    spatial_dims: 2,
    in_channels: 2,
    out_channels: 2,
    num_res_blocks: 1,
    num_channels: [8, 16],
    attention_levels: [false, true],
    norm_num_groups: 4,
    with_conditioning: true,
    cross_attention_dim: 8,
    num_head_channels: [0, 16],
  };
  const diffusion = {
    lr: 2e-3,
    weightDecay: 0.01,
    promptDropout: 0.1,
    scheduler: { ...REFERENCE_SCHEDULER },
    sampleSteps: 4,
    guidanceScale: 3,
    figureExamples: 2,
  };
  const base: TrainConfig = { stage, preset: 'desktop', imageSize: [20, 28], augment: true, loop };
  if (stage === 'autoencoder') {
    base.autoencoder = {
      network: {
        spatial_dims: 2,
        in_channels: 1,
        out_channels: 1,
        num_channels: [8, 16],
        latent_channels: 2,
        num_res_blocks: 1,
        norm_num_groups: 4,
        attention_levels: [false, false],
        with_encoder_nonlocal_attn: false,
        with_decoder_nonlocal_attn: false,
      },
      discriminator: { spatial_dims: 2, num_channels: 8, num_layers_d: 2, in_channels: 1, out_channels: 1 },
      lr: 3e-3,
      discLr: 1e-3,
      klWeight: 1e-6,
      perceptualWeight: 0,
      perceptualNetwork: null,
      advWeight: 0.005,
      advStartEpoch: 1,
      gradClip: 1,
    };
  } else if (stage === 'ldm') {
    base.ldm = { network: unet, ...diffusion, latentScale: 0.3, contextTokens: 3, contextFile: null };
  } else {
    const cn: Record<string, unknown> = { ...unet };
    delete cn.out_channels;
    base.controlnet = {
      network: { ...cn, conditioning_embedding_in_channels: 1, conditioning_embedding_num_channels: [4, 8] },
      ...diffusion,
      conditioningScale: 1,
    };
  }
  return base;
}

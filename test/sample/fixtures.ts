/**
 * A tiny trained-looking pipeline on disk for sampling tests: autoencoder, LDM and ControlNet
 * checkpoints in brainsynth's format (src/ml/pipeline/checkpoint.ts) with RANDOM weights everywhere
 * (zero-initialised convs too, so the UNet output and the ControlNet residuals are not 0 and the
 * FLAIR really steers the sample). Models run at 40x56 (a quarter of the 160x224 grid), latent
 * 3x20x28, so a DDIM step takes a fraction of a second on the wasm backend.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine } from '../../src/ml/engine';
import type { StateDict } from '../../src/ml/io';
import { AutoencoderKL } from '../../src/ml/networks/autoencoder-kl';
import { ControlNet } from '../../src/ml/networks/controlnet';
import { DiffusionModelUNet } from '../../src/ml/networks/diffusion-unet';
import type { Network } from '../../src/ml/networks/network';
import { loadPipeline, type SamplingPipeline } from '../../src/ml/pipeline';
import { promoteCheckpoint, writeCheckpoint } from '../../src/ml/pipeline/checkpoint';
import { REFERENCE_SCHEDULER } from '../../src/ml/train/config';
import { Rng } from '../../src/ml/util/rng';

export const TINY_SIZE: [number, number] = [40, 56];

export const TINY_AE = {
  spatial_dims: 2,
  in_channels: 1,
  out_channels: 1,
  num_channels: [8, 8],
  latent_channels: 3,
  num_res_blocks: 1,
  norm_num_groups: 4,
  attention_levels: [false, false],
  with_encoder_nonlocal_attn: false,
  with_decoder_nonlocal_attn: false,
};

const UNET_COMMON = {
  spatial_dims: 2,
  in_channels: 3,
  num_res_blocks: 1,
  num_channels: [8, 16],
  attention_levels: [false, true],
  norm_num_groups: 4,
  with_conditioning: true,
  cross_attention_dim: 8,
  num_head_channels: [0, 8],
};
export const TINY_UNET = { ...UNET_COMMON, out_channels: 3 };
export const TINY_CONTROLNET = { ...UNET_COMMON, conditioning_embedding_in_channels: 1, conditioning_embedding_num_channels: [8, 8] };

/** The wasm backend (what 'auto' picks on a CPU-only machine; ~10x faster than cpu for these nets). */
export async function useTestBackend(): Promise<void> {
  await initEngine({ backend: 'wasm' });
  await tf.ready();
}

/** A state dict of N(0, std) values for every tensor of `net` (norm scales around 1). */
export function randomStateDict(net: Network, seed: number, std = 0.2): StateDict {
  const rng = Rng.fromSeed(seed);
  const sd: StateDict = new Map();
  for (const spec of net.parameterSpecs()) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const data = rng.fillNormal(new Float32Array(n)).map((v) => v * std);
    const isNormScale = /norm\d*\.weight$|norm\.weight$/.test(spec.name) && spec.shape.length === 1;
    sd.set(spec.name, { shape: [...spec.shape], data: isNormScale ? data.map((v) => 1 + v) : data });
  }
  return sd;
}

function loop() {
  return { epochs: 1, batchSize: 2, seed: 1, checkpointEvery: 1, valEvery: 1, valAtStart: false, maxStepsPerEpoch: 1, maxValBatches: 1 };
}

function save(runDir: string, stage: string, config: Record<string, unknown>, model: StateDict, state: StateDict, context?: StateDict): void {
  mkdirSync(runDir, { recursive: true });
  const written = writeCheckpoint(runDir, {
    model,
    state,
    context,
    meta: { stage, step: 3, epoch: 1, stepInEpoch: 0, rng: Rng.fromSeed(0).getState(), bestValLoss: null, lastValLoss: null, config },
  });
  promoteCheckpoint(runDir, written, ['last']);
}

export interface TinyPipelineDirs {
  autoencoder: string;
  ldm: string;
  controlnet: string;
}

/** Writes the three run folders (each with a 'last' checkpoint). */
/** `controlnet` adds fields to the ControlNet run's config section. */
export function writeTinyPipeline(dirs: TinyPipelineDirs, seed = 7, controlnet: Record<string, unknown> = {}): void {
  const imageSize = TINY_SIZE;
  const diffusion = { lr: 1e-4, weightDecay: 0.01, promptDropout: 0.1, scheduler: { ...REFERENCE_SCHEDULER }, sampleSteps: 3, guidanceScale: 7, figureExamples: 1 };
  const ae = new AutoencoderKL(TINY_AE);
  // Small AE weights keep decoded values in a sensible range.
  save(dirs.autoencoder, 'autoencoder', { stage: 'autoencoder', preset: 'desktop', imageSize, augment: false, loop: loop(), autoencoder: { network: TINY_AE } }, randomStateDict(ae, seed, 0.15), new Map());
  const unet = new DiffusionModelUNet(TINY_UNET);
  const rng = Rng.fromSeed(seed + 1);
  const context: StateDict = new Map([
    ['prompt', { shape: [2, 8], data: rng.fillNormal(new Float32Array(16)) }],
    ['null', { shape: [2, 8], data: rng.fillNormal(new Float32Array(16)) }],
  ]);
  const scale: StateDict = new Map([['latent_scale', { shape: [1], data: Float32Array.of(0.5) }]]);
  save(
    dirs.ldm,
    'ldm',
    { stage: 'ldm', preset: 'desktop', imageSize, augment: false, loop: loop(), ldm: { network: TINY_UNET, ...diffusion, latentScale: 0.5, contextTokens: 2, contextFile: null } },
    randomStateDict(unet, seed + 2, 0.1),
    scale,
    context,
  );
  const cn = new ControlNet(TINY_CONTROLNET);
  save(
    dirs.controlnet,
    'controlnet',
    { stage: 'controlnet', preset: 'desktop', imageSize, augment: false, loop: loop(), controlnet: { network: TINY_CONTROLNET, ...diffusion, conditioningScale: 1, ...controlnet } },
    randomStateDict(cn, seed + 3, 0.1),
    scale,
    context,
  );
}

/** A smooth FLAIR-like test image batch in [0, 1] (count x h x w). */
export function flairBatch(count: number, h: number, w: number, phase = 0): Float32Array {
  const out = new Float32Array(count * h * w);
  for (let b = 0; b < count; b++)
    for (let r = 0; r < h; r++)
      for (let c = 0; c < w; c++) {
        const dy = (r - h / 2) / (h / 2);
        const dx = (c - w / 2) / (w / 2);
        const inside = dx * dx + dy * dy < 0.8;
        out[(b * h + r) * w + c] = inside ? 0.4 + 0.3 * Math.sin(0.3 * r + 0.2 * c + b + phase) : 0;
      }
  return out;
}

/**
 * The test backend plus a tiny pipeline written to a fresh temp folder (dir/ae, dir/ldm, dir/cn)
 * and loaded; close() disposes it and removes the folder.
 */
export async function openTinyPipeline(prefix: string): Promise<{ dir: string; pipeline: SamplingPipeline; close(): void }> {
  await useTestBackend();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    writeTinyPipeline({ autoencoder: join(dir, 'ae'), ldm: join(dir, 'ldm'), controlnet: join(dir, 'cn') });
    const pipeline = loadPipeline({ autoencoder: join(dir, 'ae'), ldm: join(dir, 'ldm'), controlnet: join(dir, 'cn') });
    return {
      dir,
      pipeline,
      close() {
        pipeline.dispose();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

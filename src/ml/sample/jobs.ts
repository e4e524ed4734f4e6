/**
 * Sampling jobs as plain JSON specs: what the worker thread (src/backend/jobs/worker.ts)
 * or the CLI runs. The main side resolves the store (run folders, dataset paths, normalisation);
 * a job only reads files, computes, and writes its own output files. Results come back as plain
 * data (typed arrays) for the host to store.
 */
import { initEngine } from '../engine';
import type { SplitName } from '../data/split';
import { evaluateSplit, type EvaluatedStage, type EvaluationOutput } from './evaluation';
import { describeNativeInference, useNativeInference } from './native';
import { loadAutoencoder, loadPipeline, type PipelineInfo, type PipelineSources } from '../pipeline';
import type { FeatureNetworkChoice } from './sample-quality';
import { evaluateAutoencoder, evaluateLdm } from './stage-evaluation';
import type { SamplerKind } from './sampler';
import { generateForSlice, readSubjectSlice, type GridSlices, type SliceGenerationResult, type SubjectSliceSource } from './slice';
import { translateVolume, type NormalisationSpec, type TranslateVolumeResult } from './volume';

export interface SamplingSettings {
  steps?: number;
  sampler?: SamplerKind;
  guidanceScale?: number;
  conditioningScale?: number;
  /** Zero grid outputs outside the FLAIR's brain (default: the run's, PipelineInfo.brainMask). */
  brainMask?: boolean;
  batch?: number;
}

interface JobBase {
  sources: PipelineSources;
  normalisation: NormalisationSpec;
  settings: SamplingSettings;
  /** 'auto' or a backend name. */
  backend?: string;
}

export interface SliceJobSpec extends JobBase {
  kind: 'slice';
  /** A subject's volumes and slice index, or a FLAIR slice already on the 160x224 grid in [0, 1]. */
  source: SubjectSliceSource | { flair: number[] | Float32Array };
  seed: number;
  samples: number;
}

export interface VolumeJobSpec extends JobBase {
  kind: 'volume';
  flairPath: string;
  outPath: string;
  seed: number;
}

export interface EvaluateJobSpec extends Omit<JobBase, 'sources'> {
  kind: 'evaluate';
  /** The stage evaluated (default controlnet); an autoencoder evaluation needs only its autoencoder source. */
  stage?: EvaluatedStage;
  sources: PipelineSources | { autoencoder: string; checkpoint?: PipelineSources['checkpoint'] };
  /** LDM: unconditional samples to draw; ControlNet: samples per slice (their mean is scored too). */
  samples?: number;
  /** LDM: the Frechet distance's feature network (not computed without one). */
  features?: FeatureNetworkChoice;
  datasetDir: string;
  split: SplitName;
  seed: number;
  limit?: number;
  lesionMasks?: Record<string, string>;
  imagesDir?: string;
}

export type SampleJobSpec = SliceJobSpec | VolumeJobSpec | EvaluateJobSpec;

export type SampleJobResult =
  | { kind: 'slice'; backend: string; inference: string; pipeline: PipelineInfo; input: GridSlices; result: SliceGenerationResult }
  | { kind: 'volume'; backend: string; inference: string; pipeline: PipelineInfo; result: TranslateVolumeResult }
  | { kind: 'evaluate'; backend: string; inference: string; pipeline: PipelineInfo | AutoencoderInfo; result: EvaluationOutput };

/** What an autoencoder evaluation loaded. */
export interface AutoencoderInfo {
  imageSize: [number, number];
  checkpoints: { autoencoder: string };
  steps: { autoencoder: number };
}

export interface SampleJobProgress {
  phase: string;
  done: number;
  total: number;
  step?: number;
  steps?: number;
  message: string;
}

export interface SampleJobHooks {
  started?(backend: string): void;
  /** One line saying what runs the forward passes and why (onnxruntime or tfjs). */
  log?(line: string): void;
  progress?(p: SampleJobProgress): void;
  shouldStop?(): boolean;
}

function stepText(step?: number, steps?: number): string {
  return steps ? `, step ${step}/${steps}` : '';
}

function evaluateCommon(spec: EvaluateJobSpec) {
  return { datasetDir: spec.datasetDir, split: spec.split, seed: spec.seed, limit: spec.limit, lesionMasks: spec.lesionMasks, imagesDir: spec.imagesDir };
}

export async function runSampleJob(spec: SampleJobSpec, hooks: SampleJobHooks = {}): Promise<SampleJobResult> {
  const engine = await initEngine({ backend: spec.backend && spec.backend !== 'auto' ? (spec.backend as never) : undefined });
  hooks.started?.(engine.backend);
  const progress = (p: { phase: string; done: number; total: number; step?: number; steps?: number }) =>
    hooks.progress?.({ ...p, message: `${p.phase} ${p.done}/${p.total}${stepText(p.step, p.steps)}` });
  if (spec.kind === 'evaluate' && spec.stage === 'autoencoder') {
    const { ae, checkpoint, config } = loadAutoencoder(spec.sources.autoencoder, spec.sources.checkpoint);
    try {
      const imageSize = (config.imageSize ?? [160, 224]) as [number, number];
      const result = await evaluateAutoencoder(ae, imageSize, { ...evaluateCommon(spec), batch: spec.settings.batch, shouldStop: hooks.shouldStop, onProgress: progress });
      const info: AutoencoderInfo = { imageSize, checkpoints: { autoencoder: checkpoint.dir }, steps: { autoencoder: checkpoint.meta.step } };
      return { kind: 'evaluate', backend: engine.backend, inference: `autoencoder on tfjs ${engine.backend}`, pipeline: info, result };
    } finally {
      ae.dispose();
    }
  }
  if (!('ldm' in spec.sources)) throw new Error(`a ${spec.kind} job needs the LDM and autoencoder run folders`);
  const pipeline = loadPipeline(spec.sources);
  const s = spec.settings;
  try {
    const native = await useNativeInference(pipeline, { requestedBackend: spec.backend });
    const inference = describeNativeInference(native, engine.backend);
    hooks.log?.(inference);
    // What computed the samples: onnxruntime when it runs them, else the tfjs backend.
    const backend = native.engine === 'onnx' ? 'onnx' : engine.backend;
    if (spec.kind === 'slice') {
      const input: GridSlices =
        'flair' in spec.source
          ? { flair: Float32Array.from(spec.source.flair), t1w: null, lesion: null, z: -1 }
          : await readSubjectSlice(spec.source, spec.normalisation);
      if (input.flair.length !== 160 * 224) throw new Error(`a FLAIR slice must have 160x224 = 35840 values, got ${input.flair.length}`);
      const result = await generateForSlice(pipeline, input, {
        ...s,
        seed: spec.seed,
        samples: spec.samples,
        shouldStop: hooks.shouldStop,
        onProgress: (p) => hooks.progress?.({ phase: 'sampling', ...p, message: `sample ${Math.min(p.done + 1, p.total)}/${p.total}${stepText(p.step, p.steps)}` }),
      });
      return { kind: 'slice', backend, inference, pipeline: pipeline.info, input, result };
    }
    if (spec.kind === 'volume') {
      const result = await translateVolume(pipeline, spec.flairPath, spec.outPath, {
        ...s,
        seed: spec.seed,
        normalisation: spec.normalisation,
        shouldStop: hooks.shouldStop,
        onProgress: (p) =>
          hooks.progress?.({ phase: 'sampling', done: p.done, total: p.total, step: p.step, steps: p.steps, message: `slice ${p.done}/${p.total} (${p.skipped} without signal skipped)${stepText(p.step, p.steps)}` }),
      });
      return { kind: 'volume', backend, inference, pipeline: pipeline.info, result };
    }
    const result =
      spec.stage === 'ldm'
        ? await evaluateLdm(pipeline, { ...evaluateCommon(spec), steps: s.steps, sampler: s.sampler, batch: s.batch, samples: spec.samples ?? 16, features: spec.features, shouldStop: hooks.shouldStop, onProgress: progress })
        : await evaluateSplit(pipeline, { ...s, ...evaluateCommon(spec), samplesPerSlice: spec.samples, shouldStop: hooks.shouldStop, onProgress: progress });
    return { kind: 'evaluate', backend, inference, pipeline: pipeline.info, result };
  } finally {
    pipeline.dispose();
  }
}

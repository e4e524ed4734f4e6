import { initEngine } from '../../ml/engine';
import { loadPipeline, type PipelineSources } from '../../ml/pipeline';
import { upsampleBilinear } from '../../ml/sample/resize';
import { sampleUnconditional } from '../../ml/sample/sampler';
import { describeNativeInference, useNativeInference } from '../../ml/sample/native';
import type { JobContext, JobOutcome } from '../jobs/context';

/** Unconditional T1w samples of an LDM run (`brainsynth sample`), on the 160x224 grid. */
export interface UnconditionalSpec {
  sources: Pick<PipelineSources, 'ldm' | 'autoencoder'>;
  seeds: number[];
  steps?: number;
  /** Samples per forward pass. */
  batch: number;
  backend?: string;
}

export interface UnconditionalResult {
  backend: string;
  /** What ran the forward passes and why (onnxruntime, or tfjs with the reason). */
  inference: string;
  /** n x 160 x 224, row-major, one sample per seed. */
  images: Float32Array;
  seconds: number;
}

export async function runUnconditionalJob(spec: UnconditionalSpec, ctx: JobContext): Promise<JobOutcome> {
  const engine = await initEngine({ backend: spec.backend && spec.backend !== 'auto' ? (spec.backend as never) : undefined });
  const p = loadPipeline(spec.sources);
  try {
    const native = await useNativeInference(p, { requestedBackend: spec.backend });
    const inference = describeNativeInference(native, engine.backend);
    const [h, w] = p.info.imageSize;
    const n = spec.seeds.length;
    const images = new Float32Array(n * 160 * 224);
    const started = performance.now();
    ctx.progress({ phase: 'sampling', done: 0, total: n, message: `sample 0/${n}` });
    for (let k = 0; k < n; k += spec.batch) {
      const seeds = spec.seeds.slice(k, k + spec.batch);
      try {
        const small = await sampleUnconditional(p, { seeds, steps: spec.steps, shouldStop: () => ctx.cancelled() });
        images.set(upsampleBilinear(small, seeds.length, { height: h, width: w }, { height: 160, width: 224 }), k * 160 * 224);
      } catch (err) {
        if (err instanceof Error && err.name === 'SamplingCancelledError') return { status: 'cancelled', result: null, message: err.message };
        throw err;
      }
      ctx.progress({ phase: 'sampling', done: k + seeds.length, total: n, message: `sample ${k + seeds.length}/${n}` });
    }
    const result: UnconditionalResult = { backend: native.engine === 'onnx' ? 'onnx' : engine.backend, inference, images, seconds: (performance.now() - started) / 1000 };
    return { status: 'completed', result };
  } finally {
    p.dispose();
  }
}

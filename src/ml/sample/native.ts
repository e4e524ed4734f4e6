/**
 * Native-speed sampling: builds onnxruntime runners from a pipeline's networks and sets
 * `pipeline.runners`, so translation, generation and evaluation run their forward passes on
 * onnxruntime-node (every CPU core, or a GPU provider where the machine has one). Where
 * onnxruntime-node does not load, or building a model fails, the pipeline keeps sampling on tfjs
 * and the reason is returned (and logged by the caller), like the tfjs backend ladder.
 */
import { OnnxAutoencoderRunner, OnnxControlledUNetRunner, OnnxUNetRunner } from '../onnx/runner';
import { loadOnnxRuntime, type SessionOptions } from '../onnx/runtime';
import type { InferenceRunners, SamplingPipeline } from '../pipeline';

export interface NativeInferenceResult {
  /** 'onnx' when the pipeline now samples on onnxruntime, else 'tfjs'. */
  engine: 'onnx' | 'tfjs';
  /** What runs the forward passes (e.g. "onnxruntime cpu, 16 threads"). */
  description: string;
  /** Why onnxruntime is not used, or the GPU providers it skipped. */
  notes: string[];
}

export interface NativeInferenceOptions extends SessionOptions {
  /** A tfjs backend the user asked for by name (--backend; default BRAINSYNTH_BACKEND; 'auto' = none): then tfjs is kept. */
  requestedBackend?: string;
}

/** Attaches onnxruntime runners to `p` when possible; never throws for an unavailable runtime. */
export async function useNativeInference(p: SamplingPipeline, opts: NativeInferenceOptions = {}): Promise<NativeInferenceResult> {
  const requested = opts.requestedBackend || process.env.BRAINSYNTH_BACKEND;
  if (requested && requested !== 'auto') {
    return { engine: 'tfjs', description: 'tfjs', notes: [`onnxruntime not tried: backend '${requested}' was requested`] };
  }
  const { ort, reason } = await loadOnnxRuntime();
  if (!ort) return { engine: 'tfjs', description: 'tfjs', notes: [reason ?? 'onnxruntime-node unavailable'] };
  const opened: Array<{ dispose(): Promise<void> }> = [];
  try {
    const unet = await OnnxUNetRunner.create(ort, p.unet, opts);
    opened.push(unet);
    const ae = await OnnxAutoencoderRunner.create(ort, p.ae, opts);
    opened.push(ae);
    const controlled = p.controlnet ? await OnnxControlledUNetRunner.create(ort, p.unet, p.controlnet, opts) : null;
    if (controlled) opened.push(controlled);
    const runners: InferenceRunners = {
      description: unet.description,
      unet: (x, t, ctx) => unet.forward(x, t, ctx),
      controlledUnet: controlled ? (x, t, ctx, cond, scale) => controlled.forward(x, t, ctx, cond, scale) : undefined,
      decode: (z) => ae.decode(z),
      async dispose() {
        await Promise.all(opened.map((r) => r.dispose()));
      },
    };
    await p.runners?.dispose();
    p.runners = runners;
    return { engine: 'onnx', description: runners.description, notes: unet.notes };
  } catch (err) {
    await Promise.all(opened.map((r) => r.dispose().catch(() => undefined)));
    return { engine: 'tfjs', description: 'tfjs', notes: [`onnxruntime not used: ${(err as Error).message}`] };
  }
}

/** One log line: what sampling runs on and why. */
export function describeNativeInference(r: NativeInferenceResult, tfjsBackend: string): string {
  return r.engine === 'onnx'
    ? `sampling on ${r.description}${r.notes.length > 0 ? ` (${r.notes.join('; ')})` : ''}`
    : `sampling on tfjs ${tfjsBackend} (${r.notes.join('; ')})`;
}

import type { TrainPreset } from './config';
import type { TrainStage } from './session';

/**
 * The XNNPACK thread count a training job on the wasm engine prefers (undefined: every free
 * core); the initEngine option or BRAINSYNTH_WASM_THREADS still decides when set, and never more
 * than the free cores.
 *
 * The desktop diffusion stages train at batch 2 on a 20x28 latent: a step is ~1,500-3,000 kernels
 * of a few MFLOP each, and the pool's hand-off after every kernel costs as much as a second thread
 * saves. Measured on an idle 2-core machine (`npm run bench -- threads`, 3 alternating rounds),
 * wall time per step at 2 threads over 1: LDM 1.18 (295 vs 251 ms), ControlNet 0.97 (253 vs
 * 261 ms, a tie), autoencoder 0.92 (its 80x112 convolutions still gain). One thread also leaves
 * the other core to the app, and two one-thread jobs then train side by side at nearly full
 * speed each (LDM 3.1 steps/s each against 3.4 for one 2-thread run alone). The reference
 * preset's kernels are large enough for every free core.
 */
export function trainingWasmThreads(preset: TrainPreset, stage: TrainStage): number | undefined {
  return preset === 'desktop' && stage !== 'autoencoder' ? 1 : undefined;
}

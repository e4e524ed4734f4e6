import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { initEngine } from '../../src/ml/engine';
import { readSafetensors, type HostTensor, type SafetensorsFile } from '../../src/ml/io';
import { hasShared, sharedPath } from '../helpers/shared';

/** Shared helpers for the MONAI fixture tests (../shared/fixtures/monai, read in place). */
export { hasShared, sharedPath };

if (!hasShared) {
  console.warn(`MONAI fixtures not found at ${sharedPath('fixtures/monai')} (set BRAINSYNTH_SHARED): fixture tests are skipped`);
}

export const fixturePath = (name: string): string => sharedPath('fixtures/monai', name);

export interface FixtureManifest {
  autoencoderkl: Record<string, unknown>;
  diffusion_unet: Record<string, unknown>;
  controlnet: Record<string, unknown>;
  patch_discriminator: Record<string, unknown>;
  controlnet_conditioning_scale: number;
}

export function manifest(): FixtureManifest {
  return JSON.parse(readFileSync(fixturePath('manifest.json'), 'utf8')) as FixtureManifest;
}

const cache = new Map<string, SafetensorsFile>();
export function fixture(name: string): SafetensorsFile {
  let f = cache.get(name);
  if (!f) {
    f = readSafetensors(fixturePath(name));
    cache.set(name, f);
  }
  return f;
}

export function tensorOf(file: SafetensorsFile, name: string): HostTensor {
  const t = file.tensors.get(name);
  if (!t) throw new Error(`fixture tensor ${name} missing`);
  return t;
}

/** ||a - b|| / ||b||, in float64 (the engine-side helper the `forward` CLI also uses). */
export { relativeL2 } from '../../src/ml/util/relative-l2';

export type TestBackend = 'cpu' | 'wasm';

/** Activates a backend with the project's kernel fixes (engine), as the app and CLI run it. */
export async function useBackend(name: TestBackend): Promise<void> {
  const info = await initEngine({ backend: name });
  if (info.backend !== name || tf.getBackend() !== name) throw new Error(`backend ${name} failed to initialise`);
}

/** Whether the active backend can backpropagate through conv2d weights (stock wasm cannot). */
export function canTrainConvs(name: TestBackend): boolean {
  return tf.getKernel('Conv2DBackpropFilter', name) !== undefined;
}

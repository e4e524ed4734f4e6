import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic-write';
import type { AutoencoderKL } from '../networks/autoencoder-kl';
import type { ControlNet } from '../networks/controlnet';
import type { DiffusionModelUNet } from '../networks/diffusion-unet';
import type { OnnxGraph, ValueInfo } from './graph';
import { IR_VERSION, OPSET } from './graph';
import { controlNetModel, decoderModel, encoderModel, unetModel } from './models';

/**
 * Writes a trained pipeline's networks as standalone ONNX files (NCHW, MONAI names) plus
 * onnx-manifest.json describing each file's inputs/outputs and the sampling settings a user
 * needs to reproduce brainsynth's sampler (latent scale, scheduler, guidance).
 */

export const ONNX_MANIFEST = 'onnx-manifest.json';

export interface OnnxExportInput {
  unet: DiffusionModelUNet;
  controlnet: ControlNet | null;
  ae: AutoencoderKL;
  /** Free-form provenance and sampling settings, copied into the manifest. */
  meta: Record<string, unknown>;
}

export interface OnnxFileEntry {
  file: string;
  bytes: number;
  sha256: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
}

export interface OnnxExportManifest {
  format: 'brainsynth-onnx';
  version: 1;
  opset: number;
  irVersion: number;
  layout: 'NCHW';
  files: Record<string, OnnxFileEntry>;
  meta: Record<string, unknown>;
}

/** Builds, serialises and writes every graph; each file is written atomically, the manifest last. */
export async function exportOnnx(input: OnnxExportInput, outDir: string): Promise<OnnxExportManifest> {
  mkdirSync(outDir, { recursive: true });
  const unetSd = await input.unet.stateDict();
  const aeSd = await input.ae.stateDict();
  const graphs: Array<[string, OnnxGraph]> = [
    ['unet', unetModel(input.unet.config, unetSd, { residualInputs: input.controlnet !== null })],
    ['decoder', decoderModel(input.ae.config, aeSd)],
    ['encoder', encoderModel(input.ae.config, aeSd)],
  ];
  if (input.controlnet) graphs.splice(1, 0, ['controlnet', controlNetModel(input.controlnet.config, await input.controlnet.stateDict())]);
  const files: Record<string, OnnxFileEntry> = {};
  for (const [name, g] of graphs) {
    const bytes = g.encode({ doc: `brainsynth ${g.name}`, metadata: { network: g.name } });
    const file = `${name}.onnx`;
    writeFileAtomic(join(outDir, file), bytes);
    files[name] = {
      file,
      bytes: bytes.byteLength,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      inputs: [...g.inputInfo],
      outputs: [...g.outputInfo],
    };
  }
  const manifest: OnnxExportManifest = { format: 'brainsynth-onnx', version: 1, opset: OPSET, irVersion: IR_VERSION, layout: 'NCHW', files, meta: input.meta };
  writeFileAtomic(join(outDir, ONNX_MANIFEST), new TextEncoder().encode(JSON.stringify(manifest, null, 1) + '\n'));
  return manifest;
}

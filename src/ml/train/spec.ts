import type { TrainConfig } from './config';

/**
 * Everything a training job needs, as plain JSON: the main side resolves the database (dataset
 * folder, parent runs' folders) and validates the config; the worker then only reads files.
 */
export interface TrainJobSpec {
  runId: number;
  runDir: string;
  /** Folder holding the prepared-slice cache (index.json + slices.bin, or a `prepared/` sub-folder). */
  datasetDir: string;
  config: TrainConfig;
  /** Run folders of the parents: the autoencoder (LDM, ControlNet) and the LDM (ControlNet). */
  parents: { autoencoder?: string; ldm?: string };
  resume: boolean;
  /** 'auto' or a backend name (cpu, wasm, webgpu, tensorflow). */
  backend: string;
}

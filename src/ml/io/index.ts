import { fromMonaiCoreNames } from './monai-core-names';
import { readPthStateDict } from './pth';
import { readSafetensors } from './safetensors';
import { stripModulePrefix, type StateDict } from './state-dict';

export * from './state-dict';
export * from './safetensors';
export * from './pth';
export { writeFileAtomic } from './atomic-write';
export { diskCause, diskError, DiskError } from './fs-errors';
export { fromMonaiCoreNames, looksLikeMonaiCore } from './monai-core-names';

/**
 * Reads weights by extension: .safetensors, or .pth/.pt/.ckpt/.bin (PyTorch zip checkpoints).
 * A DataParallel "module." prefix is removed and MONAI core (>= 1.4) tensor names are mapped to the GenerativeModels names our networks use.
 */
export function readWeights(path: string): StateDict {
  const lower = path.toLowerCase();
  let sd: StateDict;
  if (lower.endsWith('.safetensors')) sd = readSafetensors(path).tensors;
  else if (lower.endsWith('.pth') || lower.endsWith('.pt') || lower.endsWith('.ckpt') || lower.endsWith('.bin')) sd = readPthStateDict(path);
  else throw new Error(`${path}: unknown weights format; expected .safetensors or .pth`);
  return fromMonaiCoreNames(stripModulePrefix(sd));
}

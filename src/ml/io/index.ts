import { readPthStateDict } from './pth';
import { readSafetensors } from './safetensors';
import type { StateDict } from './state-dict';

export * from './state-dict';
export * from './safetensors';
export * from './pth';
export { writeFileAtomic } from './atomic-write';

/** Reads weights by extension: .safetensors, or .pth/.pt/.ckpt (PyTorch zip checkpoints). */
export function readWeights(path: string): StateDict {
  const lower = path.toLowerCase();
  if (lower.endsWith('.safetensors')) return readSafetensors(path).tensors;
  if (lower.endsWith('.pth') || lower.endsWith('.pt') || lower.endsWith('.ckpt') || lower.endsWith('.bin')) return readPthStateDict(path);
  throw new Error(`${path}: unknown weights format; expected .safetensors or .pth`);
}

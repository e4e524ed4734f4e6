/**
 * The in-memory exchange format for weights: one float32 tensor per MONAI state_dict name, in
 * PyTorch layout (conv [out,in,kh,kw], linear [out,in]). Readers (safetensors, .pth) produce it,
 * networks load and emit it, so every converter stays a thin file-format layer.
 */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

export type StateDict = Map<string, HostTensor>;

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeToString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Checkpoints written from torch.nn.DataParallel prefix every key with "module."; strip it when
 * every key carries it so such files load like plain state_dicts.
 */
export function stripModulePrefix(sd: StateDict): StateDict {
  const keys = [...sd.keys()];
  if (keys.length === 0 || !keys.every((k) => k.startsWith('module.'))) return sd;
  const out: StateDict = new Map();
  for (const [k, v] of sd) out.set(k.slice('module.'.length), v);
  return out;
}

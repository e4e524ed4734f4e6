import type { StateDict } from './state-dict';

/**
 * MONAI core >= 1.4 absorbed the GenerativeModels networks and renamed a few tensors (MONAI's
 * own `load_old_state_dict` maps the other way):
 *   cross-attention `to_out.0`      -> `out_proj`
 *   Upsample `...conv.conv`         -> `...postconv.conv`
 *   self-attention `to_q/k/v`       -> `attn.to_q/k/v`,  `proj_attn` -> `attn.out_proj`
 * Our networks use the GenerativeModels 0.2.x names (the reference's), so core-style
 * checkpoints are renamed on import.
 */
export function looksLikeMonaiCore(sd: StateDict): boolean {
  for (const k of sd.keys()) if (/(^|\.)(postconv|out_proj)\./.test(k)) return true;
  return false;
}

export function fromMonaiCoreNames(sd: StateDict): StateDict {
  if (!looksLikeMonaiCore(sd)) return sd;
  const out: StateDict = new Map();
  for (const [key, t] of sd) {
    const renamed = key
      .replace(/\.attn\.out_proj\.(weight|bias)$/, '.proj_attn.$1')
      .replace(/\.attn\.(to_q|to_k|to_v)\.(weight|bias)$/, '.$1.$2')
      .replace(/\.out_proj\.(weight|bias)$/, '.to_out.0.$1')
      .replace(/\.postconv\.conv\./, '.conv.conv.');
    if (out.has(renamed)) throw new Error(`MONAI core key "${key}" maps to "${renamed}", which already exists`);
    out.set(renamed, t);
  }
  return out;
}

/**
 * Config checking shared by the networks. Configs use MONAI's constructor argument names, so a
 * manifest.json section or a reference YAML `params` block loads as-is; problems are reported
 * with the network, the field and what would be valid.
 */
export function configError(net: string, msg: string): Error {
  return new Error(`${net} config: ${msg}`);
}

export function checkKnownKeys(net: string, cfg: object, allowed: readonly string[]): void {
  const unknown = Object.keys(cfg).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) {
    throw configError(net, `unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')} (known: ${allowed.join(', ')})`);
  }
}

export function positiveInt(net: string, field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw configError(net, `${field} must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

export function positiveIntList(net: string, field: string, v: unknown): number[] {
  if (!Array.isArray(v) || v.length === 0) throw configError(net, `${field} must be a non-empty list of positive integers, got ${JSON.stringify(v)}`);
  return v.map((x, i) => positiveInt(net, `${field}[${i}]`, x));
}

/** An int or a per-level list, as MONAI accepts for num_res_blocks / num_head_channels. */
export function perLevel<T>(net: string, field: string, v: T | T[], levels: number): T[] {
  if (Array.isArray(v)) {
    if (v.length !== levels) throw configError(net, `${field} has ${v.length} entries but num_channels has ${levels} levels`);
    return [...v];
  }
  return new Array<T>(levels).fill(v);
}

export function boolList(net: string, field: string, v: unknown, levels: number): boolean[] {
  if (!Array.isArray(v) || v.length !== levels || !v.every((b) => typeof b === 'boolean')) {
    throw configError(net, `${field} must be a list of ${levels} booleans (one per num_channels level), got ${JSON.stringify(v)}`);
  }
  return v as boolean[];
}

export function divisibleByGroups(net: string, channels: number[], groups: number, what = 'num_channels'): void {
  const bad = channels.filter((c) => c % groups !== 0);
  if (bad.length > 0) {
    throw configError(net, `every ${what} entry must be divisible by norm_num_groups=${groups} (GroupNorm); ${bad.join(', ')} ${bad.length > 1 ? 'are' : 'is'} not`);
  }
}

export function requireSpatial2d(net: string, v: unknown): void {
  if (v !== 2) throw configError(net, `spatial_dims must be 2 (this project works on 2-D slices), got ${JSON.stringify(v)}`);
}

export function requireDefault(net: string, field: string, v: unknown, allowed: unknown, why: string): void {
  if (v !== undefined && v !== allowed) throw configError(net, `${field}=${JSON.stringify(v)} is not supported (${why})`);
}

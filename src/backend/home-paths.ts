/**
 * Paths inside the home are stored relative to it, so a moved home keeps working and a copied
 * home reads its own files, never the original's. Paths outside the home (imported folders) stay
 * absolute. The store's own file tells where its home is: the database sits at <home>/brainsynth.db.
 */
import { existsSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type Database from 'better-sqlite3';

/** The home folder of an open store, or undefined for an in-memory one (paths then stay absolute). */
export function homeRootOfDb(db: Database.Database): string | undefined {
  if (db.memory || !db.name || db.name === ':memory:') return undefined;
  return dirname(resolve(db.name));
}

function roots(homeRoot: string): string[] {
  const out = [resolve(homeRoot)];
  try {
    const real = realpathSync(homeRoot);
    if (real !== out[0]) out.push(real);
  } catch {
    // Not created yet: only the given spelling can match.
  }
  return out;
}

/** How `path` is stored: relative to the home (forward slashes) when inside it, else as given. */
export function toStoredPath(homeRoot: string | undefined, path: string): string {
  if (!homeRoot || !isAbsolute(path)) return path;
  for (const root of roots(homeRoot)) {
    const rel = relative(root, path);
    if (rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)) return rel.split(sep).join('/');
  }
  return path;
}

/** The absolute path of a stored path. */
export function fromStoredPath(homeRoot: string | undefined, stored: string): string {
  if (!homeRoot || isAbsolute(stored)) return stored;
  return join(homeRoot, ...stored.split('/'));
}

/**
 * For rows written before paths were stored relative: a path inside this home becomes relative;
 * a path into another home's datasets/<id>/ or runs/<id>/ (the home was moved, or copied from
 * another) becomes relative when this home holds the same file, so the copy stops reading (and
 * resuming from) the original's files.
 */
export function migrateStoredPath(homeRoot: string, stored: string): string {
  const inHome = toStoredPath(homeRoot, stored);
  if (inHome !== stored || !isAbsolute(stored)) return inHome;
  const m = /[\\/]((?:datasets|runs)[\\/]\d+(?:[\\/].*)?)$/.exec(stored);
  if (!m) return stored;
  const rel = m[1]!.split(/[\\/]/).join('/');
  return existsSync(fromStoredPath(homeRoot, rel)) ? rel : stored;
}

/** SQL functions the migrations use to rewrite stored paths (registered on every read-write open). */
export function registerHomePathFunctions(db: Database.Database): void {
  const root = homeRootOfDb(db);
  db.function('brainsynth_home_relative', { deterministic: true }, (path: unknown) =>
    typeof path === 'string' && root ? migrateStoredPath(root, path) : path,
  );
}

/** The fields of a run's config that hold file or folder paths (user-given; inside the home or not). */
export const RUN_CONFIG_PATH_FIELDS: readonly (readonly [string, string])[] = [
  ['ldm', 'contextFile'],
  ['autoencoder', 'perceptualNetwork'],
  ['cluster', 'folder'],
];

/** A copy of a run config with each path field mapped by `map` (other fields untouched). */
export function mapConfigPaths(config: Record<string, unknown>, map: (path: string) => string): Record<string, unknown> {
  let out = config;
  for (const [section, field] of RUN_CONFIG_PATH_FIELDS) {
    const part = out[section];
    if (!part || typeof part !== 'object' || Array.isArray(part)) continue;
    const value = (part as Record<string, unknown>)[field];
    if (typeof value !== 'string') continue;
    const mapped = map(value);
    if (mapped === value) continue;
    if (out === config) out = { ...config };
    out[section] = { ...(part as Record<string, unknown>), [field]: mapped };
  }
  return out;
}

/**
 * File-system failures in words a user can act on, naming the path: the bare Node messages
 * ("ENOSPC: no space left on device, write") name neither the file nor what to do.
 */
const CAUSES: Record<string, string> = {
  ENOSPC: 'disk full',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  SQLITE_FULL: 'disk full',
  SQLITE_READONLY: 'read-only database',
  SQLITE_READONLY_DBMOVED: 'read-only database',
  SQLITE_CANTOPEN: 'cannot open the database',
  SQLITE_IOERR: 'input/output error',
};

/** The cause of a disk-side failure ('disk full', ...) or null for any other error. */
export function diskCause(err: unknown): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return null;
  return CAUSES[code] ?? (code.startsWith('SQLITE_IOERR') ? CAUSES.SQLITE_IOERR! : null);
}

/** A disk-side error already explained by diskError (its message names path and cause). */
export class DiskError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
    readonly code: string,
    detail: string,
  ) {
    super(`${reason} at ${path} (${detail})`);
    this.name = 'DiskError';
  }
}

/**
 * Wraps a disk-side failure while writing `path` as "<cause> at <path> (<original message>)";
 * any other error, or one already explained, comes back unchanged.
 */
export function diskError(err: unknown, path: string): unknown {
  if (err instanceof DiskError) return err;
  const cause = diskCause(err);
  if (!cause) return err;
  return new DiskError(path, cause, (err as { code: string }).code, (err as Error).message);
}

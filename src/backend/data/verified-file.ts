/**
 * Opening a stored file for serving only if it is still the file that was recorded: a regular
 * file at its own real path (no symlink swapped in anywhere along the path) whose content hashes
 * to the recorded sha256. The checks run on the opened descriptor, and the bytes served come from
 * that same descriptor, so replacing the file after the check changes nothing that is sent.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, createReadStream, fstatSync, openSync, realpathSync, type Stats } from 'node:fs';
import { resolve } from 'node:path';

export class FileChangedError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}; not served (re-import the dataset if the change is intended)`);
    this.name = 'FileChangedError';
  }
}

export interface VerifiedFile {
  fd: number;
  size: number;
}

/**
 * Hashes already checked, by file identity. Any write to a file changes its ctime (which no
 * unprivileged process can set back), so an unchanged identity means unchanged content.
 */
const verified = new Map<string, string>();
const MAX_REMEMBERED = 4096;

function identity(st: Stats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

function hashFd(fd: number): Promise<string> {
  return new Promise((resolveHash, reject) => {
    const hash = createHash('sha256');
    createReadStream('', { fd, start: 0, autoClose: false })
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolveHash(hash.digest('hex')))
      .on('error', reject);
  });
}

/**
 * Opens `path` for reading if it still is what was recorded (`sha256`); the caller closes `fd`
 * (a read stream with autoClose does). Throws FileChangedError naming the difference, or the
 * file system's error (ENOENT) when the file is gone.
 */
export async function openVerifiedFile(path: string, sha256: string | null): Promise<VerifiedFile> {
  const expected = resolve(path);
  const real = realpathSync(expected);
  if (real !== expected) throw new FileChangedError(expected, `the path now leads to ${real} (a symbolic link)`);
  let fd: number;
  try {
    // O_NOFOLLOW: a link swapped in after the realpath check fails here; O_NONBLOCK: a pipe cannot hang us.
    fd = openSync(expected, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new FileChangedError(expected, 'the file has been replaced by a symbolic link');
    throw err;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new FileChangedError(expected, 'no longer a regular file');
    if (!sha256) throw new FileChangedError(expected, 'no checksum was recorded at import');
    const key = identity(st);
    if (verified.get(key) !== sha256) {
      const actual = await hashFd(fd);
      if (actual !== sha256) throw new FileChangedError(expected, `content changed since import (sha256 ${actual.slice(0, 12)}…, recorded ${sha256.slice(0, 12)}…)`);
      if (verified.size >= MAX_REMEMBERED) verified.clear();
      verified.set(key, sha256);
    }
    return { fd, size: st.size };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/**
 * Opening files that must be ordinary files. A named pipe, socket or device carrying a data file's
 * name would otherwise block a read forever (a FIFO without a writer) or stream without end
 * (/dev/zero), so every data read goes through here: the open never blocks (O_NONBLOCK has no effect
 * on regular files) and the type is checked on the opened descriptor, not on a path that could be
 * swapped between the check and the read.
 */
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';

export class NotRegularFileError extends Error {
  constructor(
    readonly path: string,
    readonly kind: string,
  ) {
    super(`${path}: not a regular file (${kind}); only ordinary files are read`);
    this.name = 'NotRegularFileError';
  }
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a named pipe';
  if (st.isDirectory()) return 'a folder';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'not a plain file';
}

export interface OpenedFile {
  fd: number;
  stats: Stats;
}

export interface OpenRegularOptions {
  /** Refuse a symbolic link as the last path component instead of following it. */
  noFollow?: boolean;
}

/** Opens `path` for reading; throws NotRegularFileError (fd closed) unless it is a regular file. */
export function openRegularFile(path: string, opts: OpenRegularOptions = {}): OpenedFile {
  const flags = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (opts.noFollow ? (constants.O_NOFOLLOW ?? 0) : 0);
  let fd: number;
  try {
    fd = openSync(path, flags);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP' && opts.noFollow) throw new NotRegularFileError(path, 'a symbolic link');
    throw err;
  }
  const stats = fstatSync(fd);
  if (!stats.isFile()) {
    closeSync(fd);
    throw new NotRegularFileError(path, kindOf(stats));
  }
  return { fd, stats };
}

/** Up to `maxBytes` from the start of a regular file (the whole file when it is shorter). */
export function readRegularFilePrefix(path: string, maxBytes: number): Buffer {
  const { fd, stats } = openRegularFile(path);
  try {
    return readAll(fd, Math.min(stats.size, maxBytes));
  } finally {
    closeSync(fd);
  }
}

/** The whole content of a regular file. */
export function readRegularFile(path: string): Buffer {
  const { fd, stats } = openRegularFile(path);
  try {
    return readAll(fd, stats.size);
  } finally {
    closeSync(fd);
  }
}

/** Reads `size` bytes from offset 0 of an open descriptor (fewer if the file shrank meanwhile). */
export function readAll(fd: number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  let read = 0;
  while (read < size) {
    const n = readSync(fd, buf, read, size - read, read);
    if (n === 0) break;
    read += n;
  }
  return buf.subarray(0, read);
}

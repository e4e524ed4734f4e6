/**
 * Volume bytes for the renderer's NiiVue viewers. Both hosts serve the same path,
 * /volumes/<volumeId>/<fileName>: the bridge over HTTP (token-checked), Electron through its
 * app:// protocol handler. Only files recorded in the store are served (looked up by id), never
 * a path taken from the URL, and only while the file is still the one imported (its real path and
 * sha256 as recorded). The file name in the URL lets NiiVue pick its reader by extension.
 */
import { closeSync, createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import type Database from 'better-sqlite3';
import { NotFoundError } from '../errors';
import { FileChangedError, openVerifiedFile } from './verified-file';
import { volumeRow } from '../store/datasets';

export const VOLUMES_PATH_PREFIX = '/volumes/';

export interface VolumeFile {
  id: number;
  path: string;
  fileName: string;
  size: number;
}

/** The stored file of a volume; NotFoundError when the id is unknown or the file is gone. */
export function volumeFile(db: Database.Database, volumeId: number): VolumeFile {
  const row = volumeRow(db, volumeId);
  if (!row) throw new NotFoundError(`volume ${volumeId} does not exist`);
  let size: number;
  try {
    size = statSync(row.path).size;
  } catch {
    throw new NotFoundError(`${row.path}: the file of volume ${volumeId} is missing (moved or deleted since import)`);
  }
  return { id: row.id, path: row.path, fileName: basename(row.path), size };
}

/** The app-relative path of a volume, ending in its file name. */
export function volumePath(volumeId: number, fileName: string): string {
  return `${VOLUMES_PATH_PREFIX}${volumeId}/${encodeURIComponent(fileName)}`;
}

/** Volume id from a /volumes/<id>[/<name>] path, or undefined when the path is not one. */
export function parseVolumePath(pathname: string): number | undefined {
  if (!pathname.startsWith(VOLUMES_PATH_PREFIX)) return undefined;
  const m = /^(\d{1,12})(?:\/[^/]*)?$/.exec(pathname.slice(VOLUMES_PATH_PREFIX.length));
  if (!m) return undefined;
  const id = Number(m[1]);
  return id > 0 ? id : undefined;
}

function contentType(fileName: string): string {
  return fileName.toLowerCase().endsWith('.gz') ? 'application/gzip' : 'application/octet-stream';
}

interface OpenVolume {
  fileName: string;
  fd: number;
  size: number;
}

async function lookup(db: Database.Database, pathname: string): Promise<OpenVolume | { status: number; message: string }> {
  const id = parseVolumePath(pathname);
  if (id === undefined) return { status: 404, message: `not a volume path: ${pathname}` };
  const row = volumeRow(db, id);
  if (!row) return { status: 404, message: `volume ${id} does not exist` };
  try {
    const { fd, size } = await openVerifiedFile(row.path, row.sha256);
    return { fileName: basename(row.path), fd, size };
  } catch (err) {
    if (err instanceof FileChangedError) return { status: 409, message: `volume ${id}: ${err.message}` };
    return { status: 404, message: `${row.path}: the file of volume ${id} is missing or unreadable (moved or deleted since import)` };
  }
}

/** Bridge: streams a volume to an HTTP response. The caller has checked Host/Origin and the token. */
export async function sendVolume(db: Database.Database, req: IncomingMessage, res: ServerResponse, pathname: string, headers: Record<string, string>): Promise<void> {
  const found = await lookup(db, pathname);
  if ('status' in found) {
    res.writeHead(found.status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(found.message);
    return;
  }
  res.writeHead(200, {
    ...headers,
    'Content-Type': contentType(found.fileName),
    'Content-Length': String(found.size),
    'Cache-Control': 'no-store',
  });
  if (req.method === 'HEAD') {
    closeSync(found.fd);
    res.end();
    return;
  }
  const stream = createReadStream('', { fd: found.fd, start: 0, end: Math.max(0, found.size - 1) });
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

/** Electron: the app:// protocol's response for a volume path (a streamed body). */
export async function volumeResponse(db: Database.Database, pathname: string, headers: Record<string, string>): Promise<Response> {
  const found = await lookup(db, pathname);
  if ('status' in found) return new Response(found.message, { status: found.status, headers: { ...headers, 'Content-Type': 'text/plain; charset=utf-8' } });
  const stream = createReadStream('', { fd: found.fd, start: 0, end: Math.max(0, found.size - 1) });
  const body = Readable.toWeb(stream) as unknown as ReadableStream<Uint8Array>;
  return new Response(body, {
    headers: { ...headers, 'Content-Type': contentType(found.fileName), 'Content-Length': String(found.size), 'Cache-Control': 'no-store' },
  });
}

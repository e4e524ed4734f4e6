/**
 * A stored PNG artefact (an evaluation's FLAIR | generated | real T1w triple, a saved Generate
 * panel) as a data URL for the renderer, which never reads the file system itself. The file is
 * looked up by artefact id in the store, never by a path from the request.
 */
import { statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { InvalidInputError, NotFoundError } from '../errors';
import { fromStoredPath, homeRootOfDb } from '../home-paths';
import { NotRegularFileError, readRegularFilePrefix } from '../../ml/io/regular-file';

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Artefact images are slice panels (a few hundred KiB); refuse anything far larger. */
const MAX_BYTES = 32 * 1024 * 1024;

export interface ArtefactImage {
  id: number;
  width: number;
  height: number;
  dataUrl: string;
}

/** Width and height from a PNG's IHDR chunk; throws naming `label` when the bytes are no PNG. */
export function pngSize(bytes: Uint8Array, label: string): { width: number; height: number } {
  if (bytes.length < 24 || PNG_SIGNATURE.some((b, i) => bytes[i] !== b)) throw new InvalidInputError(`${label}: not a PNG file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

export function artefactImage(db: Database.Database, id: number): ArtefactImage {
  const row = db.prepare('SELECT id, path FROM artefacts WHERE id = ?').get(id) as { id: number; path: string } | undefined;
  if (!row) throw new NotFoundError(`artefact ${id} does not exist`);
  row.path = fromStoredPath(homeRootOfDb(db), row.path);
  if (!/\.png$/i.test(row.path)) throw new InvalidInputError(`artefact ${id} (${row.path}) is not a PNG image`);
  let bytes: Buffer;
  try {
    // Never more than the limit (plus one byte to notice an oversized file), never from a pipe.
    bytes = readRegularFilePrefix(row.path, MAX_BYTES + 1);
  } catch (err) {
    if (err instanceof NotRegularFileError) throw new InvalidInputError(err.message);
    throw new NotFoundError(`${row.path}: the file of artefact ${id} is missing (moved or deleted)`);
  }
  if (bytes.length > MAX_BYTES) throw new InvalidInputError(`${row.path}: ${statSync(row.path).size} bytes is too large to show (limit ${MAX_BYTES})`);
  const { width, height } = pngSize(bytes, row.path);
  return { id: row.id, width, height, dataUrl: `data:image/png;base64,${bytes.toString('base64')}` };
}

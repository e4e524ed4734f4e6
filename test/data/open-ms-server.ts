/**
 * A local stand-in for the open_ms_data repository: serves ../shared/data/open-ms-mni under the
 * repository's layout (<base>/patientXX/{FLAIR,T1,GOLD_STANDARD}_...nii.gz) on 127.0.0.1, with
 * HTTP Range support and an optional one-time cut of the connection mid-file (to exercise
 * resume). Files are read in place, never copied.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { OPEN_MS_FILES } from '../../src/ml/data/download';
import { openMsDir } from './helpers';

export interface OpenMsServer {
  baseUrl: string;
  /** Every request: path and Range header. */
  log: { path: string; range: string | undefined; status: number }[];
  /** Paths whose next response is cut after `bytes` bytes (consumed once). */
  cutOnce: Map<string, number>;
  /** When true, Range headers are ignored (200 + whole file). */
  ignoreRange: boolean;
  sha256(remote: string): string;
  fileFor(remote: string): string | undefined;
  close(): Promise<void>;
}

export async function startOpenMsServer(): Promise<OpenMsServer> {
  const fileFor = (remote: string): string | undefined => {
    const m = /^(patient\d\d)\/(.+)$/.exec(remote);
    if (!m) return undefined;
    const spec = OPEN_MS_FILES.find((f) => f.remote === m[2]);
    if (!spec) return undefined;
    const path = join(openMsDir, `sub-${m[1]}`, 'anat', `sub-${m[1]}_${spec.suffix}.nii.gz`);
    return existsSync(path) ? path : undefined;
  };
  const state = { log: [] as OpenMsServer['log'], cutOnce: new Map<string, number>(), ignoreRange: false };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const remote = decodeURIComponent(url.pathname.replace(/^\/MNI\//, ''));
    const file = fileFor(remote);
    const range = req.headers.range;
    if (!file) {
      state.log.push({ path: remote, range, status: 404 });
      res.writeHead(404).end('not found');
      return;
    }
    const body = readFileSync(file);
    let start = 0;
    let status = 200;
    const m = /^bytes=(\d+)-$/.exec(range ?? '');
    if (m && !state.ignoreRange) {
      start = Number(m[1]);
      if (start >= body.length) {
        state.log.push({ path: remote, range, status: 416 });
        res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end();
        return;
      }
      status = 206;
    }
    state.log.push({ path: remote, range, status });
    const slice = body.subarray(start);
    res.writeHead(status, {
      'Content-Length': slice.length,
      'Content-Type': 'application/octet-stream',
      ...(status === 206 ? { 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
    });
    const cut = state.cutOnce.get(remote);
    if (cut !== undefined) {
      state.cutOnce.delete(remote);
      res.write(slice.subarray(0, cut), () => res.destroy());
      return;
    }
    res.end(slice);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}/MNI`,
    get log() {
      return state.log;
    },
    cutOnce: state.cutOnce,
    get ignoreRange() {
      return state.ignoreRange;
    },
    set ignoreRange(v: boolean) {
      state.ignoreRange = v;
    },
    sha256: (remote) => createHash('sha256').update(readFileSync(fileFor(remote)!)).digest('hex'),
    fileFor,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

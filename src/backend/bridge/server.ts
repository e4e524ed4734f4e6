import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { BRIDGE_WS_PATH, type BridgeInvoke, type BridgeServerMessage } from '../../shared/bridge-protocol';
import { openBackend, type Services } from '..';
import { createDispatch, createHandlers, type Dispatch } from '../api/handlers';
import { contentSecurityPolicy, securityHeaders } from '../api/security-policy';
import { defaultRendererDir, mimeType, resolveStaticPath } from './static-files';
import { APP_VERSION } from '../api/app-meta';
import { sendVolume, VOLUMES_PATH_PREFIX } from '../data/volume-files';
import { watchExternalRunChanges } from '../runs/external-changes';

/**
 * The browser bridge behind `brainsynth serve`: the built renderer over HTTP plus the IPC
 * contract over a WebSocket (and POST /api/invoke/<channel> for scripts), on the loopback
 * interface only. Everything except static files needs the per-launch token, and requests
 * whose Host or Origin is not our own loopback address are refused (DNS rebinding).
 */
export interface BridgeOptions {
  /** Home folder (ignored when `services` is given). */
  home?: string;
  /** Reuse an open composition root (it stays open when the bridge closes). */
  services?: Services;
  /** 0 picks a free port. Default 0. */
  port?: number;
  /** Loopback address to bind: 127.0.0.1 (default), ::1 or localhost. */
  host?: string;
  /** Built renderer folder; default out/renderer. `null`: API only (tests). */
  rendererDir?: string | null;
  /** Fixed token (tests); default: 32 random bytes. */
  token?: string;
}

export interface Bridge {
  url: string;
  port: number;
  host: string;
  token: string;
  services: Services;
  /** Whether a built renderer is being served. */
  rendererDir: string | null;
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** Past this an oversized upload is cut off instead of being read to its end for a clean 413. */
const MAX_DRAIN_BYTES = 1024 * 1024 * 1024;

export class BridgeStartError extends Error {}

class BodyTooLargeError extends Error {
  constructor(bytes: number) {
    super(`request body of ${bytes} bytes is over the ${MAX_BODY_BYTES / 1024 ** 2} MiB limit`);
  }
}

export function rendererMissingMessage(dir: string): string {
  return `the renderer is not built (${join(dir, 'index.html')} is missing): run \`npx electron-vite build\` first`;
}

function tokenMatches(expected: Buffer, given: string | null | undefined): boolean {
  if (!given) return false;
  const buf = Buffer.from(given);
  return buf.length === expected.length && timingSafeEqual(buf, expected);
}

export async function startBridge(opts: BridgeOptions = {}): Promise<Bridge> {
  const host = opts.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host)) {
    throw new BridgeStartError(`--host ${host}: the bridge only binds to the loopback interface (127.0.0.1, ::1 or localhost)`);
  }
  const rendererDir = opts.rendererDir === null ? null : (opts.rendererDir ?? defaultRendererDir());
  const hasRenderer = rendererDir !== null && existsSync(join(rendererDir, 'index.html'));
  const token = opts.token ?? randomBytes(32).toString('base64url');
  const tokenBuf = Buffer.from(token);
  const ownServices = !opts.services;
  const services = opts.services ?? openBackend({ home: opts.home });
  const dispatch: Dispatch = createDispatch(createHandlers({ services, host: 'bridge' }));

  let port = 0;
  const allowedHosts = () => new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
  const allowedOrigins = () => new Set([...allowedHosts()].map((h) => `http://${h}`));
  let headers: Record<string, string> = {};

  /** Host must be our loopback address (a rebinding attacker's page carries its own name). */
  const hostOk = (req: IncomingMessage) => allowedHosts().has(String(req.headers.host ?? '').toLowerCase());
  /** Browsers always send Origin on WebSocket and cross-origin POSTs; if present it must be ours. */
  const originOk = (req: IncomingMessage) => req.headers.origin === undefined || allowedOrigins().has(req.headers.origin);

  const sendJson = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  const refuse = (res: ServerResponse, status: number, message: string) =>
    sendJson(res, status, { ok: false, error: { code: 'failed', message } });

  /**
   * The request body as text, or BodyTooLargeError. An oversized body is read to its end and
   * dropped (up to MAX_DRAIN_BYTES) so the client gets the 413 instead of a reset connection.
   */
  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolveBody, reject) => {
      const declared = Number(req.headers['content-length'] ?? 0);
      const chunks: Buffer[] = [];
      let size = 0;
      let tooLarge = declared > MAX_BODY_BYTES;
      if (declared > MAX_DRAIN_BYTES) {
        reject(new BodyTooLargeError(declared));
        return;
      }
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) tooLarge = true;
        if (tooLarge) {
          chunks.length = 0;
          if (size > MAX_DRAIN_BYTES) reject(new BodyTooLargeError(size));
        } else chunks.push(chunk);
      });
      req.on('end', () => (tooLarge ? reject(new BodyTooLargeError(size)) : resolveBody(Buffer.concat(chunks).toString('utf8'))));
      req.on('error', reject);
    });

  const handleApi = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    const auth = req.headers.authorization?.replace(/^Bearer\s+/i, '') ?? url.searchParams.get('token');
    if (!tokenMatches(tokenBuf, auth)) return refuse(res, 401, 'missing or wrong token (use the URL printed by `brainsynth serve`)');
    if (req.method !== 'POST') return refuse(res, 405, 'use POST /api/invoke/<channel> with a JSON body');
    const channel = url.pathname.slice('/api/invoke/'.length);
    let payload: unknown;
    try {
      const body = await readBody(req);
      payload = body.trim() === '' ? {} : JSON.parse(body);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        // Connection: close: a body we stopped reading must not be parsed as the next request.
        res.setHeader('Connection', 'close');
        return sendJson(res, 413, { ok: false, error: { code: 'invalid_request', channel, message: `${channel}: ${err.message}` } });
      }
      return sendJson(res, 400, { ok: false, error: { code: 'invalid_request', channel, message: `${channel}: request body is not valid JSON (${(err as Error).message})` } });
    }
    const envelope = await dispatch(channel, payload);
    const status = envelope.ok ? 200 : { unknown_channel: 404, invalid_request: 400, not_found: 404, conflict: 409, invalid_response: 500, failed: 500 }[envelope.error.code];
    sendJson(res, status, envelope);
  };

  const handleStatic = async (req: IncomingMessage, res: ServerResponse, url: URL) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'method not allowed');
    if (!hasRenderer) {
      res.writeHead(503, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(
        rendererDir === null
          ? 'brainsynth serve: API only (started with --api-only); POST /api/invoke/<channel> or connect a WebSocket to /api\n'
          : `brainsynth serve: ${rendererMissingMessage(rendererDir)}\n`,
      );
      return;
    }
    const file = resolveStaticPath(rendererDir!, url.pathname);
    if (!file) return refuse(res, 404, `not found: ${url.pathname}`);
    const body = await readFile(file);
    const isHtml = file.endsWith('.html');
    res.writeHead(200, {
      ...headers,
      'Content-Type': mimeType(file),
      'Cache-Control': isHtml ? 'no-store' : 'public, max-age=3600',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (!hostOk(req)) return refuse(res, 403, `refused: Host ${JSON.stringify(req.headers.host ?? '')} is not this bridge`);
    if (!originOk(req)) return refuse(res, 403, `refused: Origin ${req.headers.origin} is not this bridge`);
    if (url.pathname.startsWith(VOLUMES_PATH_PREFIX)) {
      // Volume bytes for the NiiVue viewers: token-checked like the API, files looked up by id.
      const auth = req.headers.authorization?.replace(/^Bearer\s+/i, '') ?? url.searchParams.get('token');
      if (!tokenMatches(tokenBuf, auth)) return refuse(res, 401, 'missing or wrong token (use the URL printed by `brainsynth serve`)');
      if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'method not allowed');
      sendVolume(services.store.db, req, res, url.pathname, headers).catch(() => res.destroy());
      return;
    }
    const task = url.pathname.startsWith('/api/') ? handleApi(req, res, url) : handleStatic(req, res, url);
    task.catch((err: unknown) => {
      if (!res.headersSent) refuse(res, 500, err instanceof Error ? err.message : String(err));
      else res.destroy();
    });
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY_BYTES });
  const clients = new Set<WebSocket>();
  const rejectUpgrade = (socket: import('node:stream').Duplex, status: number, text: string) => {
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
  };
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== BRIDGE_WS_PATH) return rejectUpgrade(socket, 404, 'Not Found');
    if (!hostOk(req)) return rejectUpgrade(socket, 403, 'Forbidden: foreign Host');
    if (!originOk(req)) return rejectUpgrade(socket, 403, 'Forbidden: foreign Origin');
    if (!tokenMatches(tokenBuf, url.searchParams.get('token'))) return rejectUpgrade(socket, 401, 'Unauthorized: missing or wrong token');
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  const send = (ws: WebSocket, msg: BridgeServerMessage) => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
  };
  wss.on('connection', (ws: WebSocket) => {
    clients.add(ws);
    ws.on('close', () => clients.delete(ws));
    ws.on('error', () => clients.delete(ws));
    send(ws, { type: 'hello', version: APP_VERSION });
    ws.on('message', (data) => {
      let msg: BridgeInvoke;
      try {
        msg = JSON.parse(String(data)) as BridgeInvoke;
      } catch {
        return send(ws, { type: 'result', id: -1, envelope: { ok: false, error: { code: 'invalid_request', message: 'message is not valid JSON' } } });
      }
      if (!msg || msg.type !== 'invoke' || typeof msg.id !== 'number') {
        return send(ws, { type: 'result', id: typeof msg?.id === 'number' ? msg.id : -1, envelope: { ok: false, error: { code: 'invalid_request', message: 'expected {type:"invoke", id, channel, payload}' } } });
      }
      void dispatch(msg.channel, msg.payload).then((envelope) => send(ws, { type: 'result', id: msg.id, envelope }));
    });
  });

  // Runs a CLI or another window writes reach this page as push events too.
  const stopWatching = watchExternalRunChanges(services);
  const unsubscribe = services.events.onAny((event, payload) => {
    const text = JSON.stringify({ type: 'event', event: String(event), payload } satisfies BridgeServerMessage);
    for (const ws of clients) if (ws.readyState === ws.OPEN) ws.send(text);
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new BridgeStartError(err.code === 'EADDRINUSE' ? `port ${opts.port} is already in use; choose another with --port` : err.message)),
    );
    server.listen(opts.port ?? 0, host, () => resolveListen());
  }).catch((err) => {
    stopWatching();
    unsubscribe();
    if (ownServices) services.close();
    throw err;
  });
  port = (server.address() as AddressInfo).port;
  // Chromium rejects an IPv6 literal ([::1]) as a CSP source; 'self' already covers the
  // same-origin WebSocket, so only the named IPv4/localhost origins are listed.
  headers = securityHeaders(
    contentSecurityPolicy({ connectSrc: [...allowedHosts()].filter((h) => !h.startsWith('[')).map((h) => `ws://${h}`) }),
  );
  const urlHost = host === '::1' ? '[::1]' : host === 'localhost' ? 'localhost' : '127.0.0.1';

  return {
    url: `http://${urlHost}:${port}/?token=${token}`,
    port,
    host,
    token,
    services,
    rendererDir: hasRenderer ? rendererDir : null,
    async close() {
      stopWatching();
      unsubscribe();
      for (const ws of clients) ws.terminate();
      wss.close();
      const closed = new Promise<void>((done) => server.close(() => done()));
      server.closeAllConnections(); // keep-alive sockets would otherwise hold close() open
      await closed;
      if (ownServices) services.close();
    },
  };
}

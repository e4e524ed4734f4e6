import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import WebSocket from 'ws';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../../src/backend/bridge/server';
import { bridgeTransport } from '../../src/shared/bridge-client';
import { ApiError, createApi, type Api } from '../../src/shared/contract';
import { tempHome } from '../store/helpers';

let home: ReturnType<typeof tempHome>;
let bridge: Bridge;
const closers: (() => void)[] = [];

beforeEach(async () => {
  home = tempHome();
  const rendererDir = join(home.dir, 'renderer');
  mkdirSync(join(rendererDir, 'assets'), { recursive: true });
  writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>brainsynth</title>');
  writeFileSync(join(rendererDir, 'assets', 'app.js'), 'console.log(1)');
  bridge = await startBridge({ home: join(home.dir, 'home'), port: 0, rendererDir });
});
afterEach(async () => {
  for (const c of closers.splice(0)) c();
  await bridge.close();
  home.cleanup();
});

function connect(): Api {
  const transport = bridgeTransport({ url: `ws://127.0.0.1:${bridge.port}/api?token=${bridge.token}`, WebSocket: WebSocket as never });
  closers.push(() => transport.close());
  return createApi(transport);
}

interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}
function http(method: string, path: string, opts: { headers?: Record<string, string>; body?: string } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: bridge.port, method, path, headers: opts.headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += String(d)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Resolves with the HTTP status the server answered a WebSocket upgrade with (101 = accepted). */
function upgradeStatus(path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${bridge.port}${path}`, { headers });
    ws.on('open', () => {
      ws.close();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('error', () => undefined);
  });
}

const runCount = () => (bridge.services.store.db.prepare('SELECT count(*) AS n FROM runs').get() as { n: number }).n;
const metricCount = () => (bridge.services.store.db.prepare('SELECT count(*) AS n FROM metrics').get() as { n: number }).n;

describe('browser bridge', () => {
  it('binds to the loopback interface only', async () => {
    await expect(startBridge({ home: home.dir, host: '0.0.0.0', rendererDir: null })).rejects.toThrow(/only binds to the loopback interface/);
    expect(bridge.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${bridge.port}/\\?token=[A-Za-z0-9_-]{40,}$`));
  });

  it('gives a browser window.api the same shape as Electron, with push events', async () => {
    const api = connect();
    const updates: number[] = [];
    const appended: number[] = [];
    api.on('run.updated', (e) => updates.push(e.run.id));
    api.on('metrics.appended', (e) => appended.push(e.count));
    const info = await api.app.info();
    expect(info.host).toBe('bridge');
    const run = await api.runs.create({ stage: 'autoencoder', config: { lr: 1e-4 }, seed: 1 });
    await api.metrics.append({ runId: run.id, points: [{ step: 0, name: 'loss', value: 2 }, { step: 1, name: 'loss', value: 1 }] });
    const list = await api.runs.list();
    expect(list.runs.map((r) => r.id)).toEqual([run.id]);
    expect(list.runs[0]!.metrics[0]).toMatchObject({ name: 'loss', best: { value: 1 } });
    const { series } = await api.metrics.query({ runId: run.id, maxPoints: 10 });
    expect(series[0]!.values).toEqual([2, 1]);
    await new Promise((r) => setTimeout(r, 50));
    expect(updates).toEqual([run.id]);
    expect(appended).toEqual([2]);
  });

  it('rejects a malformed payload with a clear error naming the field, and writes nothing', async () => {
    const api = connect();
    const run = await api.runs.create({ stage: 'ldm' });
    const err = await api.metrics
      .append({ runId: run.id, points: [{ step: 0, name: 'loss', value: 1 }, { step: -1, name: 'loss', value: 1 }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).code).toBe('invalid_request');
    expect((err as ApiError).message).toMatch(/^metrics\.append: invalid request: points\.1\.step/);
    expect((err as ApiError).issues?.[0]?.path).toBe('points.1.step');
    expect(metricCount()).toBe(0);
    const bad = await api.invoke('runs.create', { stage: 'vae' } as never).catch((e: unknown) => e);
    expect((bad as ApiError).message).toMatch(/runs\.create: invalid request: stage/);
    const extra = await api.invoke('runs.create', { stage: 'ldm', sneaky: 1 } as never).catch((e: unknown) => e);
    expect((extra as ApiError).code).toBe('invalid_request');
    expect(runCount()).toBe(1);
  });

  it('answers an unknown channel and a non-JSON body clearly over HTTP', async () => {
    const auth = { Authorization: `Bearer ${bridge.token}` };
    const unknown = await http('POST', '/api/invoke/runs.drop', { headers: auth, body: '{}' });
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body).error.message).toMatch(/unknown channel "runs.drop"/);
    const garbage = await http('POST', '/api/invoke/runs.create', { headers: auth, body: '{stage:' });
    expect(garbage.status).toBe(400);
    expect(JSON.parse(garbage.body).error.message).toMatch(/runs\.create: request body is not valid JSON/);
    const ok = await http('POST', '/api/invoke/runs.create', { headers: auth, body: JSON.stringify({ stage: 'evaluation' }) });
    expect(ok.status).toBe(200);
    expect(runCount()).toBe(1);
  });

  it('refuses API calls and WebSockets without the token', async () => {
    expect((await http('POST', '/api/invoke/runs.create', { body: JSON.stringify({ stage: 'ldm' }) })).status).toBe(401);
    expect((await http('POST', '/api/invoke/runs.create', { headers: { Authorization: 'Bearer nope' }, body: JSON.stringify({ stage: 'ldm' }) })).status).toBe(401);
    expect(await upgradeStatus('/api')).toBe(401);
    expect(await upgradeStatus('/api?token=wrong')).toBe(401);
    expect(await upgradeStatus(`/api?token=${bridge.token}`)).toBe(101);
    expect(runCount()).toBe(0);
  });

  it('refuses a foreign Origin or Host even with the token (DNS rebinding)', async () => {
    const path = `/api?token=${bridge.token}`;
    expect(await upgradeStatus(path, { Origin: 'http://evil.example' })).toBe(403);
    expect(await upgradeStatus(path, { Origin: `http://127.0.0.1:${bridge.port}` })).toBe(101);
    expect(await upgradeStatus(path, { Host: `evil.example:${bridge.port}` })).toBe(403);
    const auth = { Authorization: `Bearer ${bridge.token}` };
    const post = (headers: Record<string, string>) => http('POST', '/api/invoke/runs.create', { headers: { ...auth, ...headers }, body: JSON.stringify({ stage: 'ldm' }) });
    expect((await post({ Origin: 'http://evil.example' })).status).toBe(403);
    expect((await post({ Host: `rebind.example:${bridge.port}` })).status).toBe(403);
    expect((await http('GET', '/', { headers: { Host: `rebind.example:${bridge.port}` } })).status).toBe(403);
    expect(runCount()).toBe(0);
  });

  it('serves the built renderer with a strict CSP and never outside its folder', async () => {
    const page = await http('GET', '/?token=abc');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>brainsynth</title>');
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval'");
    expect(csp).toContain(`ws://127.0.0.1:${bridge.port}`);
    expect(csp).toContain("object-src 'none'");
    expect(csp).not.toContain("'unsafe-eval'");
    expect((await http('GET', '/assets/app.js')).headers['content-type']).toMatch(/javascript/);
    expect((await http('GET', '/experiments/3')).body).toContain('<title>brainsynth</title>'); // client-side route
    // Escapes are clamped to the renderer folder: at worst the SPA's index.html, never the file.
    for (const evil of ['/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2fetc%2fpasswd', '/../home/brainsynth.db', '/%2e%2e/home/brainsynth.db']) {
      const res = await http('GET', evil);
      expect(res.body, evil).not.toMatch(/root:|SQLite format/);
      if (res.status === 200) expect(res.body, evil).toContain('<title>brainsynth</title>');
      else expect(res.status, evil).toBe(404);
    }
    expect((await http('GET', '/missing.js')).status).toBe(404);
  });
});

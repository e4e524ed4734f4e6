import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../../src/backend/bridge/server';
import { tempServices } from '../store/helpers';

let services: ReturnType<typeof tempServices>;
let bridge: Bridge;

beforeAll(async () => {
  services = tempServices();
  bridge = await startBridge({ services, token: 't', rendererDir: null });
});
afterAll(async () => {
  await bridge?.close();
  services?.cleanup();
});

/** POSTs `bytes` of JSON-ish body in 1 MiB chunks; resolves with the answer the client got. */
function post(bytes: number, chunked: boolean): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Authorization: 'Bearer t', 'Content-Type': 'application/json' };
    if (!chunked) headers['Content-Length'] = String(bytes);
    const req = request({ host: '127.0.0.1', port: bridge.port, method: 'POST', path: '/api/invoke/runs.list', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < bytes) {
        const part = chunk.subarray(0, Math.min(chunk.length, bytes - sent));
        sent += part.length;
        if (!req.write(part)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

describe('oversized API requests', () => {
  it.each([
    ['with Content-Length', false],
    ['chunked', true],
  ])('a 70 MB request (%s) gets 413 with the limit, not a reset', { timeout: 60_000 }, async (_label, chunked) => {
    const res = await post(70 * 1024 * 1024, chunked);
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body)).toMatchObject({ ok: false, error: { code: 'invalid_request', message: expect.stringMatching(/runs\.list: request body of \d+ bytes is over the 64 MiB limit/) } });
  });

  it('still answers normal requests afterwards', async () => {
    const res = await post(2, false);
    expect(res.status).toBe(200);
  });
});

import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../../src/backend/bridge/server';
import { bridgeTransport, NOT_CONNECTED_MESSAGE, type BridgeStatus, type BridgeTransport } from '../../src/shared/bridge-client';
import { createApi, type ApiError } from '../../src/shared/contract';
import { stripChannelPrefix, withReaderErrors } from '../../src/shared/reader-errors';
import { tempHome } from '../store/helpers';

const TOKEN = 'a'.repeat(32);
const home = tempHome();
afterAll(() => home.cleanup());
let bridge: Bridge | null = null;
let transport: BridgeTransport | null = null;

afterEach(async () => {
  transport?.close();
  await bridge?.close();
});

function until(t: BridgeTransport, wanted: BridgeStatus): Promise<void> {
  return new Promise((resolve) => {
    if (t.status() === wanted) return resolve();
    const off = t.onStatus((s) => {
      if (s === wanted) {
        off();
        resolve();
      }
    });
  });
}

describe('bridge transport across a server restart', () => {
  it('answers calls at once while the server is gone, reconnects when it is back with the same token, and says when the token changed', async () => {
    bridge = await startBridge({ home: join(home.dir, 'home'), port: 0, rendererDir: null, token: TOKEN });
    const port = bridge.port;
    const t = bridgeTransport({ url: `ws://127.0.0.1:${port}/api?token=${TOKEN}`, WebSocket: WebSocket as never, reconnectMs: 50 });
    transport = t;
    const api = createApi(withReaderErrors(t));
    expect((await api.app.info()).host).toBe('bridge');
    expect(t.status()).toBe('open');

    await bridge.close();
    bridge = null;
    await until(t, 'reconnecting');
    // Not left waiting (a view would say "Loading…" forever), and no channel name in the message.
    await expect(api.runs.list({})).rejects.toThrow(NOT_CONNECTED_MESSAGE);

    bridge = await startBridge({ home: join(home.dir, 'home'), port, rendererDir: null, token: TOKEN });
    await until(t, 'open');
    expect((await api.runs.list({})).total).toBe(0);

    await bridge.close();
    bridge = await startBridge({ home: join(home.dir, 'home'), port, rendererDir: null, token: 'b'.repeat(32) });
    await until(t, 'token-refused');
    await expect(api.app.info()).rejects.toThrow(/open the new URL it printed/);
  });
});

describe('error messages for a reader', () => {
  it('drops the channel name a reply starts with, and only that', () => {
    expect(stripChannelPrefix('datasets.import: folder /x does not exist', 'datasets.import')).toBe('folder /x does not exist');
    expect(stripChannelPrefix('folder /x does not exist', 'datasets.import')).toBe('folder /x does not exist');
    expect(stripChannelPrefix('runs.get: run 9 does not exist', 'runs.list')).toBe('runs.get: run 9 does not exist');
  });

  it('reaches the page without the channel name, which stays on the error', async () => {
    bridge = await startBridge({ home: join(home.dir, 'home2'), port: 0, rendererDir: null, token: TOKEN });
    const t = bridgeTransport({ url: `ws://127.0.0.1:${bridge.port}/api?token=${TOKEN}`, WebSocket: WebSocket as never });
    transport = t;
    const api = createApi(withReaderErrors(t));
    const err = await api.runs.get({ id: 999 }).then(
      () => null,
      (e: unknown) => e as ApiError,
    );
    expect(err?.message).toBe('run 999 does not exist');
    expect(err?.channel).toBe('runs.get');
  });
});

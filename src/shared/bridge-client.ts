import type { ChannelName, Envelope, EventName, Transport } from './contract';
import { BRIDGE_WS_PATH, type BridgeInvoke, type BridgeServerMessage } from './bridge-protocol';

/**
 * The WebSocket transport used when the renderer runs in a plain browser against
 * `brainsynth serve`: `window.api ??= createApi(bridgeTransport())`. The per-launch token comes
 * from the page URL (`?token=...`), which the serve command prints.
 */

/** The subset of the WHATWG WebSocket we use (browser global, or `ws` in Node tests). */
interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}
type SocketFactory = new (url: string) => SocketLike;

export interface BridgeTransportOptions {
  /** Full ws:// URL; default: same host as the page, path /api, token from `?token=`. */
  url?: string;
  token?: string;
  /** WebSocket constructor; default: globalThis.WebSocket. */
  WebSocket?: SocketFactory;
  /** Delay before reconnecting after the socket drops (ms); grows up to 10 s. */
  reconnectMs?: number;
}

const OPEN = 1;

interface LocationLike {
  protocol: string;
  host: string;
  search: string;
}

function defaultUrl(token: string | undefined): string {
  const loc = (globalThis as { location?: LocationLike }).location;
  if (!loc) throw new Error('bridgeTransport: no page location; pass options.url');
  const params = new URLSearchParams(loc.search);
  const tok = token ?? params.get('token');
  if (!tok) throw new Error('bridgeTransport: the page URL has no ?token= (open the URL that `brainsynth serve` printed)');
  const scheme = loc.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${loc.host}${BRIDGE_WS_PATH}?token=${encodeURIComponent(tok)}`;
}

export function bridgeTransport(options: BridgeTransportOptions = {}): Transport & { close(): void } {
  const url = options.url ?? defaultUrl(options.token);
  const Socket = options.WebSocket ?? (globalThis as { WebSocket?: SocketFactory }).WebSocket;
  if (!Socket) throw new Error('bridgeTransport: no WebSocket implementation available');

  let socket: SocketLike | undefined;
  let nextId = 1;
  let closedByUser = false;
  let backoff = options.reconnectMs ?? 500;
  const pending = new Map<number, { resolve: (e: Envelope) => void; message: string }>();
  const queue: string[] = [];
  const listeners = new Map<string, Set<(payload: unknown) => void>>();

  const failAll = (reason: string) => {
    for (const [id, call] of pending) {
      call.resolve({ ok: false, error: { code: 'failed', message: reason } });
      pending.delete(id);
    }
  };

  const connect = () => {
    const ws = new Socket(url);
    socket = ws;
    ws.onopen = () => {
      backoff = options.reconnectMs ?? 500;
      for (const msg of queue.splice(0)) ws.send(msg);
    };
    ws.onmessage = (ev) => {
      let msg: BridgeServerMessage;
      try {
        msg = JSON.parse(String(ev.data)) as BridgeServerMessage;
      } catch {
        return;
      }
      if (msg.type === 'result') {
        const call = pending.get(msg.id);
        pending.delete(msg.id);
        call?.resolve(msg.envelope);
      } else if (msg.type === 'event') {
        for (const listener of listeners.get(msg.event) ?? []) listener(msg.payload);
      }
    };
    ws.onclose = (ev) => {
      // Calls in flight are lost with the socket; answer them rather than hang the UI.
      failAll(`connection to brainsynth serve closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ''})`);
      if (closedByUser || ev.code === 4401) return; // 4401: token refused, retrying cannot help
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 10_000);
    };
    ws.onerror = () => {
      /* onclose follows and handles it */
    };
  };
  connect();

  return {
    invoke(channel: ChannelName, payload: unknown): Promise<Envelope> {
      const id = nextId++;
      const message: BridgeInvoke = { type: 'invoke', id, channel, payload };
      const text = JSON.stringify(message);
      return new Promise<Envelope>((resolve) => {
        if (closedByUser) {
          resolve({ ok: false, error: { code: 'failed', channel, message: `${channel}: bridge transport closed` } });
          return;
        }
        pending.set(id, { resolve, message: text });
        if (socket && socket.readyState === OPEN) socket.send(text);
        else queue.push(text);
      });
    },
    subscribe(event: EventName, listener: (payload: unknown) => void): () => void {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      set.add(listener);
      return () => set.delete(listener);
    },
    close() {
      closedByUser = true;
      socket?.close(1000, 'client closed');
      failAll('bridge transport closed');
    },
  };
}

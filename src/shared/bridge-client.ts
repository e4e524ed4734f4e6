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
  /**
   * Asks the server whether our token is still good when a reconnect fails (a browser sees only
   * "closed 1006" when the upgrade is refused). Default: POST /api/invoke/app.info over fetch;
   * 'refused' for HTTP 401, 'down' when nothing answers.
   */
  probe?: () => Promise<'ok' | 'refused' | 'down'>;
}

/**
 * Where the socket stands: `connecting` before the first open, `open`, `reconnecting` after it
 * dropped (the server stopped or restarted), `token-refused` when the server answers but no
 * longer accepts our token (it restarted with a new one: open the new URL it printed).
 */
export type BridgeStatus = 'connecting' | 'open' | 'reconnecting' | 'token-refused';

export const TOKEN_REFUSED_MESSAGE =
  'brainsynth serve no longer accepts this page\'s token (it was restarted): open the new URL it printed ("brainsynth serve: listening on …")';

/** Said to calls made while the server is gone, instead of leaving them waiting. */
export const NOT_CONNECTED_MESSAGE = 'not connected to brainsynth serve (it stopped or restarted); reconnecting';

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

function fetchProbe(wsUrl: string): () => Promise<'ok' | 'refused' | 'down'> {
  const u = new URL(wsUrl);
  const token = u.searchParams.get('token') ?? '';
  const httpUrl = `${u.protocol === 'wss:' ? 'https:' : 'http:'}//${u.host}/api/invoke/app.info`;
  return async () => {
    const f = (globalThis as { fetch?: typeof fetch }).fetch;
    if (!f) return 'down';
    try {
      const res = await f(httpUrl, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{}' });
      return res.status === 401 ? 'refused' : 'ok';
    } catch {
      return 'down';
    }
  };
}

export interface BridgeTransport extends Transport {
  close(): void;
  status(): BridgeStatus;
  /** Calls `listener` on every status change; returns the unsubscribe function. */
  onStatus(listener: (status: BridgeStatus) => void): () => void;
}

export function bridgeTransport(options: BridgeTransportOptions = {}): BridgeTransport {
  const url = options.url ?? defaultUrl(options.token);
  const probe = options.probe ?? fetchProbe(url);
  const Socket = options.WebSocket ?? (globalThis as { WebSocket?: SocketFactory }).WebSocket;
  if (!Socket) throw new Error('bridgeTransport: no WebSocket implementation available');

  let socket: SocketLike | undefined;
  let nextId = 1;
  let closedByUser = false;
  let backoff = options.reconnectMs ?? 500;
  const pending = new Map<number, { resolve: (e: Envelope) => void; message: string }>();
  const queue: string[] = [];
  const listeners = new Map<string, Set<(payload: unknown) => void>>();
  let status: BridgeStatus = 'connecting';
  const statusListeners = new Set<(status: BridgeStatus) => void>();
  const setStatus = (next: BridgeStatus) => {
    if (next === status) return;
    status = next;
    for (const l of statusListeners) l(next);
  };

  const failAll = (reason: string) => {
    for (const [id, call] of pending) {
      call.resolve({ ok: false, error: { code: 'failed', message: reason } });
      pending.delete(id);
    }
  };

  const failQueued = () => {
    for (const text of queue.splice(0)) {
      const id = (JSON.parse(text) as BridgeInvoke).id;
      pending.get(id)?.resolve({ ok: false, error: { code: 'failed', message: NOT_CONNECTED_MESSAGE } });
      pending.delete(id);
    }
  };

  const connect = () => {
    const ws = new Socket(url);
    socket = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      backoff = options.reconnectMs ?? 500;
      setStatus('open');
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
      if (closedByUser) return;
      if (ev.code === 4401) return setStatus('token-refused'); // retrying cannot help
      // Calls waiting for the socket are answered now; new ones are refused until it is back.
      setStatus('reconnecting');
      failQueued();
      const retry = () => {
        setTimeout(connect, backoff);
        backoff = Math.min(backoff * 2, 10_000);
      };
      if (opened) return retry();
      // The upgrade failed: a server that answers but refuses the token restarted with a new one.
      void probe().then((answer) => (answer === 'refused' ? setStatus('token-refused') : retry()));
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
        if (status === 'reconnecting' || status === 'token-refused') {
          resolve({ ok: false, error: { code: 'failed', channel, message: status === 'token-refused' ? TOKEN_REFUSED_MESSAGE : NOT_CONNECTED_MESSAGE } });
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
    status: () => status,
    onStatus(listener) {
      statusListeners.add(listener);
      return () => statusListeners.delete(listener);
    },
    close() {
      closedByUser = true;
      socket?.close(1000, 'client closed');
      failAll('bridge transport closed');
    },
  };
}

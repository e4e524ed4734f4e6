import { readonly, ref, watch } from 'vue';
import { bridgeStatus } from '../api/bridge-status';
import { activeBackend, appInfo } from '../api/client';
import type { ConnectionState } from '../api/types';

/**
 * Status-bar facts, polled: whether main (Electron IPC or the bridge's WebSocket) answers, who
 * answers, and which compute backend the running job uses. Polling `app.info` is transport-agnostic
 * and cheap; a failed call flips the state to disconnected until the next one succeeds.
 */
const state = ref<ConnectionState>('connecting');
const host = ref<string | null>(null);
const version = ref<string | null>(null);
const backend = ref<{ backend: string; runId: number } | null>(null);
const lastError = ref<string | null>(null);
/** Bumped each time the connection comes back after a loss: views reload their data then. */
const reconnects = ref(0);
let wasLost = false;

function setState(next: ConnectionState): void {
  if (next === 'disconnected') wasLost = true;
  if (next === 'connected' && wasLost) {
    wasLost = false;
    reconnects.value++;
  }
  state.value = next;
}

let timer: ReturnType<typeof setInterval> | null = null;
let polling = false;

/** The bridge queues calls while its socket reconnects, so an unanswered call means "down". */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer from main within ${ms / 1000} s`)), ms);
    promise.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e: unknown) => (clearTimeout(t), reject(e)),
    );
  });
}

async function poll(): Promise<void> {
  if (polling) return; // one call in flight at most, even while the bridge is down
  polling = true;
  try {
    const info = await withTimeout(appInfo(), 3000);
    host.value = info.host;
    version.value = info.version;
    // The socket may have dropped while this call was answered from before.
    if (bridgeStatus.value === null || bridgeStatus.value === 'open') setState('connected');
    lastError.value = null;
    backend.value = await activeBackend();
  } catch (err) {
    setState('disconnected');
    lastError.value = err instanceof Error ? err.message : String(err);
  } finally {
    polling = false;
  }
}

export function startConnectionMonitor(intervalMs = 4000): void {
  if (timer !== null) return;
  // The bridge's socket says at once when it drops or comes back; polling covers Electron IPC.
  watch(bridgeStatus, (status) => {
    if (status === 'reconnecting' || status === 'token-refused') setState('disconnected');
    else if (status === 'open') void poll();
  });
  void poll();
  timer = setInterval(() => void poll(), intervalMs);
}

/** Re-check now (e.g. after a push event announced a run starting). */
export function refreshConnection(): void {
  void poll();
}

export function useConnection() {
  return {
    state: readonly(state),
    host: readonly(host),
    version: readonly(version),
    backend: readonly(backend),
    lastError: readonly(lastError),
    reconnects: readonly(reconnects),
    /** The bridge refused our token: the server restarted with a new one. */
    tokenRefused: () => bridgeStatus.value === 'token-refused',
  };
}

import type { DecodeReply, DecodeRequest } from './volume-decode.worker';
import type { DecodedVolume } from './volume-decode';

/**
 * A small pool of decode workers shared by all viewers of the page: FLAIR, T1w and mask are
 * fetched, gunzipped and summarised in parallel while the page stays responsive.
 */
const POOL_SIZE = 2;

type Pending = { resolve: (v: DecodedVolume) => void; reject: (e: Error) => void; worker: Worker };

let workers: Worker[] = [];
let nextId = 1;
const pending = new Map<number, Pending>();

function pool(): Worker[] {
  if (workers.length) return workers;
  workers = Array.from({ length: POOL_SIZE }, () => {
    const w = new Worker(new URL('./volume-decode.worker.ts', import.meta.url), { type: 'module' });
    w.onmessage = (e: MessageEvent<DecodeReply>) => {
      const r = e.data;
      const p = pending.get(r.id);
      if (!p) return;
      pending.delete(r.id);
      if (r.ok) p.resolve({ nii: r.nii, stats: r.stats, defaultWindow: r.defaultWindow, dims: r.dims, signal: r.signal });
      else p.reject(new Error(r.error));
    };
    w.onerror = (e) => {
      // A worker that failed to start fails everything it was given, with the reason.
      for (const [id, p] of pending) {
        pending.delete(id);
        p.reject(new Error(`the volume decoder stopped: ${e.message || 'worker error'}`));
      }
    };
    return w;
  });
  return workers;
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

function send(req: WithoutId<DecodeRequest>, transfer: Transferable[] = []): Promise<DecodedVolume> {
  const id = nextId++;
  // The worker with the fewest requests waiting: a small mask queued behind a large volume would
  // otherwise hold back whatever is asked for after it.
  const busy = (w: Worker) => [...pending.values()].filter((p) => p.worker === w).length;
  const w = pool().reduce((best, candidate) => (busy(candidate) < busy(best) ? candidate : best));
  return new Promise<DecodedVolume>((resolve, reject) => {
    pending.set(id, { resolve, reject, worker: w });
    w.postMessage({ ...req, id }, transfer);
  });
}

/** Fetches and decodes a volume served at `url` (off the main thread). */
export function decodeFromUrl(src: { url: string; name: string; headers: Record<string, string> }): Promise<DecodedVolume> {
  return send({ url: src.url, name: src.name, headers: src.headers });
}

/** Decodes bytes the user picked (e.g. a template file); the buffer is handed over to the worker. */
export function decodeFromBytes(bytes: ArrayBuffer, name: string): Promise<DecodedVolume> {
  return send({ bytes, name }, [bytes]);
}

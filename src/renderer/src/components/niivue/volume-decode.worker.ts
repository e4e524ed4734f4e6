/// <reference lib="webworker" />
import { decodeVolume } from './volume-decode';

/**
 * Fetches (or takes) a volume's bytes and decodes them off the page's main thread; the
 * uncompressed NIfTI goes back as a transferred buffer (no copy).
 */
export type DecodeRequest =
  | { id: number; url: string; headers: Record<string, string>; name: string }
  | { id: number; bytes: ArrayBuffer; name: string };

export type DecodeReply = ({ id: number; ok: true } & import('./volume-decode').DecodedVolume) | { id: number; ok: false; error: string };

const scope = self as unknown as DedicatedWorkerGlobalScope;

scope.onmessage = async (e: MessageEvent<DecodeRequest>) => {
  const req = e.data;
  try {
    let bytes: ArrayBuffer;
    if ('bytes' in req) bytes = req.bytes;
    else {
      const res = await fetch(req.url, { headers: req.headers });
      if (!res.ok) throw new Error(`${req.name}: the server answered ${res.status} ${res.statusText}`.trim());
      bytes = await res.arrayBuffer();
    }
    const out = await decodeVolume(bytes, req.name);
    const reply: DecodeReply = { id: req.id, ok: true, ...out };
    scope.postMessage(reply, [out.nii]);
  } catch (err) {
    const reply: DecodeReply = { id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) };
    scope.postMessage(reply);
  }
};

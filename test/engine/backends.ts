import { initEngine, type BackendName } from '../../src/ml/engine';

/**
 * Which backends the engine tests run on here: cpu and wasm always; webgpu only where Dawn finds
 * an adapter (software adapters forced, since correctness is what is tested).
 */
export interface BackendAvailability {
  name: BackendName;
  available: boolean;
  reason: string;
}

export async function testBackends(): Promise<BackendAvailability[]> {
  const out: BackendAvailability[] = [];
  for (const name of ['cpu', 'wasm', 'webgpu'] as const) {
    try {
      await initEngine({ backend: name, forceWebgpu: true });
      out.push({ name, available: true, reason: '' });
    } catch (e) {
      out.push({ name, available: false, reason: e instanceof Error ? e.message : String(e) });
    }
  }
  return out;
}

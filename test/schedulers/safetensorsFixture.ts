/**
 * Minimal safetensors reader for the scheduler/metric fixtures (F32 and I64 only), so these tests
 * do not depend on the network weights I/O module.
 */
import { readFileSync } from 'node:fs';

export interface FixtureTensor {
  dtype: 'F32' | 'I64';
  shape: number[];
  data: Float32Array | BigInt64Array;
}

export function readSafetensorsFixture(path: string): {
  tensors: Map<string, FixtureTensor>;
  metadata: Record<string, string>;
} {
  const buf = readFileSync(path);
  const headerLength = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, unknown>;
  const base = 8 + headerLength;
  const tensors = new Map<string, FixtureTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: offsets } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const bytes = buf.subarray(base + offsets[0], base + offsets[1]);
    const copy = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    if (dtype === 'F32') tensors.set(name, { dtype, shape, data: new Float32Array(copy) });
    else if (dtype === 'I64') tensors.set(name, { dtype, shape, data: new BigInt64Array(copy) });
    else throw new Error(`${path}: tensor ${name} has unsupported dtype ${dtype}`);
  }
  return { tensors, metadata };
}

export function f32(map: Map<string, FixtureTensor>, name: string): { data: Float32Array; shape: number[] } {
  const t = map.get(name);
  if (!t || t.dtype !== 'F32') throw new Error(`fixture tensor ${name} missing or not F32`);
  return { data: t.data as Float32Array, shape: t.shape };
}

export function ints(map: Map<string, FixtureTensor>, name: string): number[] {
  const t = map.get(name);
  if (!t || t.dtype !== 'I64') throw new Error(`fixture tensor ${name} missing or not I64`);
  return Array.from(t.data as BigInt64Array, (v) => Number(v));
}

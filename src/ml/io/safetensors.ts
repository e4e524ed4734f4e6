import { readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic-write';
import { DTYPE_BYTES, decodeToFloat32, encodeFromFloat32, isStoredDType, type StoredDType } from './dtypes';
import { numel, shapeToString, type HostTensor, type StateDict } from './state-dict';

/**
 * safetensors (https://github.com/huggingface/safetensors): u64 little-endian header length, a JSON
 * header {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {string: string}}, then
 * the raw little-endian tensor bytes. Everything is decoded to float32 (our one compute dtype);
 * the stored dtype of each tensor is kept so integer tensors (timesteps) can be recognised.
 */
export interface SafetensorsFile {
  tensors: StateDict;
  dtypes: Map<string, StoredDType>;
  metadata: Record<string, string>;
}

export type WritableDType = 'F32' | 'F64' | 'I64';

export interface WritableTensor extends HostTensor {
  /** Stored element type; F32 unless given (I64 for integer buffers such as num_batches_tracked). */
  dtype?: WritableDType;
}

const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export function parseSafetensors(bytes: Uint8Array, fileName = '<buffer>'): SafetensorsFile {
  const fail = (msg: string): never => {
    throw new Error(`${fileName}: not a valid safetensors file: ${msg}`);
  };
  if (bytes.byteLength < 8) fail(`only ${bytes.byteLength} bytes long`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > MAX_HEADER_BYTES || 8 + headerLen > bytes.byteLength) {
    fail(`header length ${headerLen} does not fit in the ${bytes.byteLength}-byte file`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen))) as Record<string, unknown>;
  } catch (err) {
    return fail(`header is not JSON (${(err as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = bytes.byteLength - dataStart;
  const tensors: StateDict = new Map();
  const dtypes = new Map<string, StoredDType>();
  const metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (entry && typeof entry === 'object') {
        for (const [k, v] of Object.entries(entry as Record<string, unknown>)) metadata[k] = String(v);
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e?.dtype !== 'string' || !isStoredDType(e.dtype)) {
      fail(`tensor "${name}" has unsupported dtype ${JSON.stringify(e?.dtype)}`);
    }
    const dtype = e.dtype as StoredDType;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      fail(`tensor "${name}" has an invalid shape ${JSON.stringify(e.shape)}`);
    }
    const shape = e.shape as number[];
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0)) {
      fail(`tensor "${name}" has invalid data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    const count = numel(shape);
    if (end < begin || end > dataLen) fail(`tensor "${name}" data [${begin}, ${end}) lies outside the ${dataLen} data bytes`);
    if (end - begin !== count * DTYPE_BYTES[dtype]) {
      fail(`tensor "${name}" ${dtype}${shapeToString(shape)} needs ${count * DTYPE_BYTES[dtype]} bytes but has ${end - begin}`);
    }
    tensors.set(name, { shape: [...shape], data: decodeToFloat32(bytes, dataStart + begin, count, dtype) });
    dtypes.set(name, dtype);
  }
  return { tensors, dtypes, metadata };
}

export function readSafetensors(path: string): SafetensorsFile {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(`${path}: cannot read safetensors file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return parseSafetensors(bytes, path);
}

export function serializeSafetensors(
  tensors: Map<string, WritableTensor> | StateDict,
  metadata?: Record<string, string>,
): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = { ...metadata };
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === '__metadata__') throw new Error('"__metadata__" is reserved and cannot name a tensor');
    const count = numel(t.shape);
    if (t.data.length !== count) {
      throw new Error(`tensor "${name}": shape ${shapeToString(t.shape)} holds ${count} values but data has ${t.data.length}`);
    }
    const dtype: WritableDType = (t as WritableTensor).dtype ?? 'F32';
    const bytes = encodeFromFloat32(t.data, dtype);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
  const encodedLen = new TextEncoder().encode(json).byteLength;
  json += ' '.repeat((8 - ((8 + encodedLen) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const prefix = new Uint8Array(8);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  return [prefix, headerBytes, ...chunks];
}

/** Writes atomically (temp file + fsync + rename): an interrupted save never leaves a torn file. */
export function writeSafetensors(
  path: string,
  tensors: Map<string, WritableTensor> | StateDict,
  metadata?: Record<string, string>,
): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}

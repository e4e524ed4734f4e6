/** Element decoding shared by the safetensors and PyTorch readers: every dtype becomes float32. */
export type StoredDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const DTYPE_BYTES: Record<StoredDType, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

export function isStoredDType(s: string): s is StoredDType {
  return Object.prototype.hasOwnProperty.call(DTYPE_BYTES, s);
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * Decodes `count` little-endian elements starting at byte `offset` of `bytes` into float32.
 * Integer values beyond 2^53 lose precision; weights never hold such values (num_batches_tracked
 * is the only integer buffer in these networks).
 */
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function decodeToFloat32(bytes: Uint8Array, offset: number, count: number, dtype: StoredDType): Float32Array {
  const start = bytes.byteOffset + offset;
  // Fast path: aligned little-endian float32 is a plain copy (multi-GB reference checkpoints).
  if (dtype === 'F32' && LITTLE_ENDIAN_HOST && start % 4 === 0) return new Float32Array(bytes.buffer, start, count).slice();
  const out = new Float32Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * DTYPE_BYTES[dtype]);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      break;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      break;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
      break;
    case 'BF16': {
      const tmp = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < count; i++) {
        tmp.setUint32(0, view.getUint16(i * 2, true) << 16, true);
        out[i] = tmp.getFloat32(0, true);
      }
      break;
    }
    case 'I64':
      for (let i = 0; i < count; i++) out[i] = Number(view.getBigInt64(i * 8, true));
      break;
    case 'I32':
      for (let i = 0; i < count; i++) out[i] = view.getInt32(i * 4, true);
      break;
    case 'I16':
      for (let i = 0; i < count; i++) out[i] = view.getInt16(i * 2, true);
      break;
    case 'I8':
      for (let i = 0; i < count; i++) out[i] = view.getInt8(i);
      break;
    case 'U8':
    case 'BOOL':
      for (let i = 0; i < count; i++) out[i] = view.getUint8(i);
      break;
  }
  return out;
}

/** Encodes float32 values as `dtype` (F32, F64 or I64; what our own files need). */
export function encodeFromFloat32(data: Float32Array, dtype: 'F32' | 'F64' | 'I64'): Uint8Array {
  const bytes = new Uint8Array(data.length * DTYPE_BYTES[dtype]);
  const view = new DataView(bytes.buffer);
  if (dtype === 'F32') for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  else if (dtype === 'F64') for (let i = 0; i < data.length; i++) view.setFloat64(i * 8, data[i], true);
  else for (let i = 0; i < data.length; i++) view.setBigInt64(i * 8, BigInt(Math.round(data[i])), true);
  return bytes;
}

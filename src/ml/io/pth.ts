import { readFileSync } from 'node:fs';
import { unzipSync } from 'fflate';
import { DTYPE_BYTES, decodeToFloat32, type StoredDType } from './dtypes';
import { isPyGlobal, unpickle, type PyGlobal } from './pickle';
import { numel, shapeToString, stripModulePrefix, type HostTensor, type StateDict } from './state-dict';

/**
 * PyTorch checkpoints (torch.save, zip format since torch 1.6): `<archive>/data.pkl` holds the
 * pickled object; each tensor storage lives raw (little-endian) in `<archive>/data/<key>` and is
 * referenced through a persistent id ('storage', StorageType, key, location, numel). Tensors are
 * rebuilt by torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...).
 */

const STORAGE_DTYPES: Record<string, StoredDType> = {
  FloatStorage: 'F32',
  DoubleStorage: 'F64',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

interface StorageRef {
  kind: 'storage';
  key: string;
  dtype: StoredDType;
  numel: number;
  bytes: Uint8Array;
}

function isHostTensor(v: unknown): v is HostTensor {
  return typeof v === 'object' && v !== null && (v as HostTensor).data instanceof Float32Array && Array.isArray((v as HostTensor).shape);
}

/** Copies a strided view (element offset + strides, as PyTorch stores it) into a dense array. */
function gatherStrided(storage: StorageRef, offset: number, shape: number[], stride: number[], fileName: string): Float32Array {
  const count = numel(shape);
  if (count === 0) return new Float32Array(0);
  let maxIndex = offset;
  for (let d = 0; d < shape.length; d++) maxIndex += (shape[d] - 1) * stride[d];
  if (offset < 0 || maxIndex >= storage.numel) {
    throw new Error(`${fileName}: tensor ${shapeToString(shape)} at offset ${offset} reads past storage ${storage.key} (${storage.numel} elements)`);
  }
  const all = decodeToFloat32(storage.bytes, 0, storage.numel, storage.dtype);
  let contiguous = true;
  for (let d = shape.length - 1, expect = 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expect) contiguous = false;
    expect *= shape[d];
  }
  if (contiguous) return all.slice(offset, offset + count);
  const out = new Float32Array(count);
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < count; i++) {
    let src = offset;
    for (let d = 0; d < shape.length; d++) src += idx[d] * stride[d];
    out[i] = all[src];
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

export interface PthContents {
  /** The unpickled top-level object: Maps for dicts, HostTensor for tensors, arrays for tuples/lists. */
  root: unknown;
}

export function parsePth(fileBytes: Uint8Array, fileName = '<buffer>'): PthContents {
  if (fileBytes.byteLength < 4 || fileBytes[0] !== 0x50 || fileBytes[1] !== 0x4b) {
    throw new Error(
      `${fileName}: not a zip-format PyTorch checkpoint (torch.save from torch >= 1.6); ` +
        're-save it with a current torch, or convert it to .safetensors',
    );
  }
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(fileBytes);
  } catch (err) {
    throw new Error(`${fileName}: corrupt zip archive (${(err as Error).message})`);
  }
  const pklName = Object.keys(entries).find((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  if (!pklName) throw new Error(`${fileName}: zip archive has no data.pkl, so it is not a PyTorch checkpoint`);
  const prefix = pklName.slice(0, pklName.length - 'data.pkl'.length);
  const byteorder = entries[`${prefix}byteorder`];
  if (byteorder && new TextDecoder().decode(byteorder).trim() === 'big') {
    throw new Error(`${fileName}: big-endian checkpoints are not supported`);
  }
  const storages = new Map<string, StorageRef>();
  const root = unpickle(
    entries[pklName],
    {
      persistentLoad(pid) {
        if (!Array.isArray(pid) || pid[0] !== 'storage') throw new Error(`${fileName}: unknown persistent id ${JSON.stringify(pid)}`);
        const [, type, key, , count] = pid as [string, unknown, string, string, number];
        const typeName = isPyGlobal(type) ? type.name : String(type);
        const dtype = STORAGE_DTYPES[typeName];
        if (!dtype) throw new Error(`${fileName}: storage ${key} has unsupported type ${typeName}`);
        const cached = storages.get(key);
        if (cached) return cached;
        const bytes = entries[`${prefix}data/${key}`];
        if (!bytes) throw new Error(`${fileName}: storage file ${prefix}data/${key} is missing from the archive`);
        if (bytes.byteLength < count * DTYPE_BYTES[dtype]) {
          throw new Error(`${fileName}: storage ${key} holds ${bytes.byteLength} bytes, fewer than ${count} ${dtype} elements`);
        }
        const ref: StorageRef = { kind: 'storage', key, dtype, numel: count, bytes };
        storages.set(key, ref);
        return ref;
      },
      resolveCall(fn: PyGlobal, args: unknown[]) {
        if (fn.module === 'torch._utils' && fn.name === '_rebuild_tensor_v2') {
          const [storage, offset, size, stride] = args as [StorageRef, number, number[], number[]];
          const shape = [...size];
          return { shape, data: gatherStrided(storage, offset, shape, [...stride], fileName) } satisfies HostTensor;
        }
        if (fn.module === 'torch._utils' && (fn.name === '_rebuild_parameter' || fn.name === '_rebuild_parameter_with_state')) {
          return args[0];
        }
        return undefined;
      },
    },
    `${fileName}:${pklName}`,
  );
  return { root };
}

function tensorsOf(map: Map<unknown, unknown>): StateDict | null {
  const sd: StateDict = new Map();
  for (const [k, v] of map) {
    if (typeof k !== 'string' || !isHostTensor(v)) return null;
    sd.set(k, v);
  }
  return sd.size > 0 ? sd : null;
}

/**
 * Loads a MONAI/PyTorch state_dict from a .pth file: either a plain state_dict, or a training
 * checkpoint dict holding one under "state_dict" (also "model_state_dict" / "model"). A
 * DataParallel "module." prefix is removed.
 */
export function stateDictFromPth(fileBytes: Uint8Array, fileName = '<buffer>'): StateDict {
  const { root } = parsePth(fileBytes, fileName);
  if (!(root instanceof Map)) throw new Error(`${fileName}: the checkpoint does not hold a dict (found ${typeof root})`);
  const direct = tensorsOf(root);
  if (direct) return stripModulePrefix(direct);
  for (const key of ['state_dict', 'model_state_dict', 'model']) {
    const inner = root.get(key);
    if (inner instanceof Map) {
      const sd = tensorsOf(inner);
      if (sd) return stripModulePrefix(sd);
    }
  }
  const keys = [...root.keys()].map(String).slice(0, 10).join(', ');
  throw new Error(`${fileName}: no state_dict found: the top-level dict has keys [${keys}] and none holds only tensors`);
}

export function readPthStateDict(path: string): StateDict {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(`${path}: cannot read checkpoint (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return stateDictFromPth(bytes, path);
}

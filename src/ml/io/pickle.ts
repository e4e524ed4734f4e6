/**
 * A small, safe Python unpickler: it understands the opcodes torch.save emits (protocols 2-5) and
 * never executes anything. Class references (GLOBAL) become `PyGlobal` markers; calling one
 * (REDUCE/NEWOBJ) asks `resolveCall`, so the caller decides which constructors it recognises
 * (e.g. torch._utils._rebuild_tensor_v2) and everything else stays an inert `PyObject`.
 */
export interface PyGlobal {
  kind: 'global';
  module: string;
  name: string;
}

export interface PyObject {
  kind: 'object';
  cls: unknown;
  args: unknown[];
  state?: unknown;
}

export interface UnpickleHooks {
  persistentLoad(pid: unknown): unknown;
  /** Return undefined to fall back to an inert PyObject. */
  resolveCall?(fn: PyGlobal, args: unknown[]): unknown;
}

export function isPyGlobal(v: unknown, module?: string, name?: string): v is PyGlobal {
  if (typeof v !== 'object' || v === null || (v as PyGlobal).kind !== 'global') return false;
  const g = v as PyGlobal;
  return (module === undefined || g.module === module) && (name === undefined || g.name === name);
}

const MARK = Symbol('mark');

export function unpickle(bytes: Uint8Array, hooks: UnpickleHooks, fileName = 'data.pkl'): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder();
  const latin1 = new TextDecoder('latin1');
  let pos = 0;
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  const fail = (msg: string): never => {
    throw new Error(`${fileName}: cannot unpickle: ${msg} (at byte ${pos})`);
  };
  const need = (n: number): void => {
    if (pos + n > bytes.byteLength) fail('unexpected end of data');
  };
  const u8 = (): number => {
    need(1);
    return bytes[pos++];
  };
  const u16 = (): number => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = (): number => {
    need(4);
    const v = view.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = Number(view.getBigUint64(pos, true));
    pos += 8;
    return v;
  };
  const take = (n: number): Uint8Array => {
    need(n);
    const b = bytes.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('unterminated text line');
    const s = latin1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    return stack.pop();
  };
  const popMark = (): unknown[] => {
    const idx = stack.lastIndexOf(MARK);
    if (idx < 0) fail('MARK not found');
    const items = stack.splice(idx);
    items.shift();
    return items;
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const littleEndianSigned = (b: Uint8Array): number => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return Number(v);
  };
  const call = (fn: unknown, args: unknown[]): unknown => {
    if (isPyGlobal(fn) && hooks.resolveCall) {
      const r = hooks.resolveCall(fn, args);
      if (r !== undefined) return r;
    }
    if (isPyGlobal(fn, 'collections', 'OrderedDict') || isPyGlobal(fn, 'builtins', 'dict')) return new Map();
    return { kind: 'object', cls: fn, args } satisfies PyObject;
  };
  const setItems = (target: unknown, kv: unknown[]): void => {
    if (!(target instanceof Map)) fail('SETITEM(S) on a non-dict');
    const m = target as Map<unknown, unknown>;
    for (let i = 0; i + 1 < kv.length; i += 2) m.set(kv[i], kv[i + 1]);
  };
  const appendItems = (target: unknown, items: unknown[]): void => {
    if (Array.isArray(target)) target.push(...items);
    else if (target instanceof Set) for (const it of items) target.add(it);
    else fail('APPEND(S) on a non-list');
  };

  for (;;) {
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        u8();
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: // STOP
        return pop();
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x91: // FROZENSET
        stack.push(new Set(popMark()));
        break;
      case 0x90: // ADDITEMS
        {
          const items = popMark();
          appendItems(top(), items);
        }
        break;
      case 0x74: // TUPLE
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x64: {
        // DICT
        const m = new Map();
        setItems(m, popMark());
        stack.push(m);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const kv = popMark();
        setItems(top(), kv);
        break;
      }
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(littleEndianSigned(take(u8())));
        break;
      case 0x8b: // LONG4
        stack.push(littleEndianSigned(take(u32())));
        break;
      case 0x49: {
        // INT (text); "00"/"01" are protocol-0 booleans
        const s = line();
        stack.push(s === '00' ? false : s === '01' ? true : parseInt(s, 10));
        break;
      }
      case 0x4c: // LONG (text)
        stack.push(parseInt(line().replace(/L$/, ''), 10));
        break;
      case 0x46: // FLOAT (text)
        stack.push(parseFloat(line()));
        break;
      case 0x47: {
        // BINFLOAT (big-endian double)
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;
      }
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x58: // BINUNICODE
        stack.push(text.decode(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text.decode(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text.decode(take(u64())));
        break;
      case 0x54: // BINSTRING
        stack.push(latin1.decode(take(i32())));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1.decode(take(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(take(u64()).slice());
        break;
      case 0x63: {
        // GLOBAL
        const module = line();
        const name = line();
        stack.push({ kind: 'global', module, name } satisfies PyGlobal);
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        stack.push({ kind: 'global', module: String(module), name: String(name) } satisfies PyGlobal);
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(call(fn, Array.isArray(args) ? args : [args]));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = pop();
        stack.push(call(cls, Array.isArray(args) ? args : [args]));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        pop(); // kwargs
        const args = pop();
        const cls = pop();
        stack.push(call(cls, Array.isArray(args) ? args : [args]));
        break;
      }
      case 0x62: {
        // BUILD: only inert objects keep their state; dict attributes such as a state_dict's
        // `_metadata` (module versions) are not needed to load weights.
        const state = pop();
        const obj = top();
        if (typeof obj === 'object' && obj !== null && (obj as PyObject).kind === 'object') (obj as PyObject).state = state;
        break;
      }
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x70: // PUT
        memo.set(parseInt(line(), 10), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: // LONG_BINGET
      case 0x67: {
        // GET
        const idx = op === 0x68 ? u8() : op === 0x6a ? u32() : parseInt(line(), 10);
        if (!memo.has(idx)) fail(`memo entry ${idx} missing`);
        stack.push(memo.get(idx));
        break;
      }
      case 0x51: // BINPERSID
        stack.push(hooks.persistentLoad(pop()));
        break;
      case 0x50: // PERSID
        stack.push(hooks.persistentLoad(line()));
        break;
      default:
        fail(`unsupported opcode 0x${op.toString(16)}`);
    }
  }
}

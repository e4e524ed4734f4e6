import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { stateDictFromPth } from '../../src/ml/io';

/**
 * A tiny pickle writer (protocol 2 opcodes, as torch.save emits) to build checkpoints the fixtures
 * do not cover: DataParallel "module." keys, a non-contiguous (transposed) tensor view with a
 * storage offset, float64 and int64 storages, and two tensors sharing one storage.
 */
class Pickler {
  private parts: number[] = [0x80, 2];
  private op(...bytes: number[]): this {
    this.parts.push(...bytes);
    return this;
  }
  mark(): this {
    return this.op(0x28);
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.op(0x58, b.length & 0xff, (b.length >> 8) & 0xff, 0, 0, ...b);
  }
  int(n: number): this {
    return this.op(0x4a, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, (n >>> 24) & 0xff);
  }
  global(module: string, name: string): this {
    return this.op(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }
  tuple(): this {
    return this.op(0x74);
  }
  emptyTuple(): this {
    return this.op(0x29);
  }
  reduce(): this {
    return this.op(0x52);
  }
  binpersid(): this {
    return this.op(0x51);
  }
  falsy(): this {
    return this.op(0x89);
  }
  emptyDict(): this {
    return this.op(0x7d);
  }
  setitems(): this {
    return this.op(0x75);
  }
  stop(): Uint8Array {
    this.op(0x2e);
    return Uint8Array.from(this.parts);
  }
  ints(xs: number[]): this {
    this.mark();
    for (const x of xs) this.int(x);
    return this.tuple();
  }
  /** torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()) */
  tensor(storageType: string, key: string, numel: number, offset: number, size: number[], stride: number[]): this {
    this.global('torch._utils', '_rebuild_tensor_v2').mark();
    this.mark().str('storage').global('torch', storageType).str(key).str('cpu').int(numel).tuple().binpersid();
    this.int(offset).ints(size).ints(stride).falsy().global('collections', 'OrderedDict').emptyTuple().reduce();
    return this.tuple().reduce();
  }
}

function bytesOf(arr: Float32Array | Float64Array | BigInt64Array): Uint8Array {
  return new Uint8Array(arr.buffer.slice(0));
}

describe('PyTorch .pth import, synthetic checkpoints', () => {
  it('handles strided views with offsets, shared storages, float64/int64 and the module. prefix', () => {
    // storage 0: 12 floats 0..11; "module.a" = rows 0..2 x cols 0..3 transposed view (4x3, strides [1,4]);
    // "module.b" = the same storage viewed from offset 4 as [2, 4] contiguous.
    const base = Float32Array.from({ length: 12 }, (_, i) => i);
    const p = new Pickler().emptyDict().mark();
    p.str('module.a').tensor('FloatStorage', '0', 12, 0, [4, 3], [1, 4]);
    p.str('module.b').tensor('FloatStorage', '0', 12, 4, [2, 4], [4, 1]);
    p.str('module.c').tensor('DoubleStorage', '1', 2, 0, [2], [1]);
    p.str('module.n').tensor('LongStorage', '2', 1, 0, [], []);
    const pkl = p.setitems().stop();
    const zip = zipSync(
      {
        'archive/data.pkl': pkl,
        'archive/data/0': bytesOf(base),
        'archive/data/1': bytesOf(Float64Array.from([0.5, -2])),
        'archive/data/2': bytesOf(BigInt64Array.from([7n])),
        'archive/version': new TextEncoder().encode('3\n'),
      },
      { level: 0 },
    );
    const sd = stateDictFromPth(zip, 'synthetic.pth');
    expect([...sd.keys()]).toEqual(['a', 'b', 'c', 'n']);
    expect(sd.get('a')!.shape).toEqual([4, 3]);
    // a[i][j] = base[i + 4j]
    expect(Array.from(sd.get('a')!.data)).toEqual([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
    expect(Array.from(sd.get('b')!.data)).toEqual([4, 5, 6, 7, 8, 9, 10, 11]);
    expect(Array.from(sd.get('c')!.data)).toEqual([0.5, -2]);
    expect(sd.get('n')).toEqual({ shape: [], data: Float32Array.from([7]) });
  });

  it('names the file when a storage is missing or a dict holds no tensors', () => {
    const p = new Pickler().emptyDict().mark();
    p.str('w').tensor('FloatStorage', '0', 4, 0, [4], [1]);
    const zip = zipSync({ 'x/data.pkl': p.setitems().stop() }, { level: 0 });
    expect(() => stateDictFromPth(zip, 'broken.pth')).toThrow('broken.pth: storage file x/data/0 is missing from the archive');
    const q = new Pickler().emptyDict().mark().str('epoch').int(3).setitems().stop();
    expect(() => stateDictFromPth(zipSync({ 'x/data.pkl': q }), 'meta.pth')).toThrow(/meta\.pth: no state_dict found: the top-level dict has keys \[epoch\]/);
  });
});

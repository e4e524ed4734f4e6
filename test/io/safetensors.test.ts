import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSafetensors, readSafetensors, serializeSafetensors, writeSafetensors } from '../../src/ml/io';
import { hasShared, sharedPath } from '../networks/fixtures';

const dir = mkdtempSync(join(tmpdir(), 'bs-safetensors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

describe('safetensors', () => {
  it('round-trips float32 and int64 tensors with metadata, header 8-byte aligned', () => {
    const path = join(dir, 'a.safetensors');
    const tensors = new Map([
      ['w', { shape: [2, 3], data: Float32Array.from([1, -2.5, 3e-8, 4, 5, 6]) }],
      ['steps', { shape: [1], data: Float32Array.from([7]), dtype: 'I64' as const }],
      ['scalar', { shape: [], data: Float32Array.from([0.25]) }],
    ]);
    writeSafetensors(path, tensors, { loss: 'mean((a-b)^2)' });
    const back = readSafetensors(path);
    expect(back.metadata).toEqual({ loss: 'mean((a-b)^2)' });
    expect([...back.tensors.keys()]).toEqual(['w', 'steps', 'scalar']);
    expect(back.tensors.get('w')).toEqual({ shape: [2, 3], data: tensors.get('w')!.data });
    expect(back.dtypes.get('steps')).toBe('I64');
    expect(back.tensors.get('steps')!.data[0]).toBe(7);
    expect(back.tensors.get('scalar')!.shape).toEqual([]);
    const bytes = concat(serializeSafetensors(tensors));
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLen) % 8).toBe(0);
    // No temp file is left beside the target.
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('decodes F16 and F64', () => {
    const header = JSON.stringify({
      h: { dtype: 'F16', shape: [3], data_offsets: [0, 6] },
      d: { dtype: 'F64', shape: [1], data_offsets: [6, 14] },
    });
    const hb = new TextEncoder().encode(header);
    const buf = new Uint8Array(8 + hb.byteLength + 14);
    const view = new DataView(buf.buffer);
    view.setBigUint64(0, BigInt(hb.byteLength), true);
    buf.set(hb, 8);
    const base = 8 + hb.byteLength;
    view.setUint16(base, 0x3c00, true); // 1.0
    view.setUint16(base + 2, 0xc000, true); // -2.0
    view.setUint16(base + 4, 0x3555, true); // ~0.33325
    view.setFloat64(base + 6, Math.PI, true);
    const f = parseSafetensors(buf, 'mem');
    expect(Array.from(f.tensors.get('h')!.data)).toEqual([1, -2, 0.333251953125]);
    expect(f.tensors.get('d')!.data[0]).toBeCloseTo(Math.PI, 6);
  });

  it('names the file and the problem for corrupt input', () => {
    const path = join(dir, 'bad.safetensors');
    writeFileSync(path, new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 0x7b]));
    expect(() => readSafetensors(path)).toThrow(/bad\.safetensors: not a valid safetensors file: header is not JSON/);
    const short = join(dir, 'short.safetensors');
    const chunks = serializeSafetensors(new Map([['x', { shape: [4], data: new Float32Array(4) }]]));
    const full = concat(chunks);
    writeFileSync(short, full.subarray(0, full.byteLength - 4));
    expect(() => readSafetensors(short)).toThrow(/short\.safetensors: .*tensor "x"/);
    expect(() => readSafetensors(join(dir, 'missing.safetensors'))).toThrow(/missing\.safetensors: cannot read/);
  });

  it.skipIf(!hasShared)('reads the MONAI fixtures (metadata, int64 timesteps)', () => {
    const io = readSafetensors(sharedPath('fixtures/monai/diffusion_unet.io.safetensors'));
    expect(io.metadata.conditioning_scale).toBe('0.7');
    expect(io.dtypes.get('timesteps')).toBe('I64');
    expect(io.tensors.get('x_t')!.shape).toEqual([2, 3, 8, 12]);
    const w = readSafetensors(sharedPath('fixtures/monai/autoencoderkl.weights.safetensors'));
    expect(w.tensors.size).toBe(126);
  });
});

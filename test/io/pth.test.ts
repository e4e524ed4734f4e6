import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromMonaiCoreNames, looksLikeMonaiCore, readPthStateDict, readSafetensors, stateDictFromPth, type StateDict } from '../../src/ml/io';
import { hasShared, sharedPath } from '../networks/fixtures';

function expectIdentical(a: StateDict, b: StateDict): void {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [k, t] of b) {
    const u = a.get(k)!;
    // num_batches_tracked is [] in torch but [1] in the fixture files; compare element counts there.
    if (k.endsWith('num_batches_tracked')) expect(u.data.length).toBe(t.data.length);
    else expect(u.shape, k).toEqual(t.shape);
    expect(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), k).toBe(true);
  }
}

describe.skipIf(!hasShared)('PyTorch .pth import', () => {
  it('a plain state_dict (autoencoderkl.weights.pth) loads exactly the safetensors tensors', () => {
    const pth = readPthStateDict(sharedPath('fixtures/monai/autoencoderkl.weights.pth'));
    const st = readSafetensors(sharedPath('fixtures/monai/autoencoderkl.weights.safetensors')).tensors;
    expect(pth.size).toBe(126);
    expectIdentical(pth, st);
  });

  it('a training checkpoint {epoch, state_dict, best_loss} (controlnet.checkpoint.pth) loads its state_dict exactly', () => {
    const pth = readPthStateDict(sharedPath('fixtures/monai/controlnet.checkpoint.pth'));
    const st = readSafetensors(sharedPath('fixtures/monai/controlnet.weights.safetensors')).tensors;
    expect(pth.size).toBe(260);
    expectIdentical(pth, st);
  });

  it('rejects a file that is not a zip checkpoint, naming it', () => {
    expect(() => stateDictFromPth(new Uint8Array([0x80, 2, 0x7d, 0x2e]), 'legacy.pth')).toThrow(/legacy\.pth: not a zip-format PyTorch checkpoint/);
    const bytes = readFileSync(sharedPath('fixtures/monai/autoencoderkl.weights.pth'));
    expect(() => stateDictFromPth(bytes.subarray(0, 200), 'cut.pth')).toThrow(/cut\.pth/);
  });
});

describe.skipIf(!hasShared)('MONAI core (>= 1.4) tensor names', () => {
  it('are mapped back to the GenerativeModels names (out_proj, postconv, attn.*)', () => {
    const st = readSafetensors(sharedPath('fixtures/monai/diffusion_unet.weights.safetensors')).tensors;
    const core: StateDict = new Map();
    for (const [k, t] of st) core.set(k.replace('.to_out.0.', '.out_proj.').replace('.upsampler.conv.conv.', '.upsampler.postconv.conv.'), t);
    expect(looksLikeMonaiCore(core)).toBe(true);
    expect([...fromMonaiCoreNames(core).keys()]).toEqual([...st.keys()]);
    const selfAttn: StateDict = new Map([
      ['encoder.blocks.4.attn.to_q.weight', { shape: [1], data: new Float32Array(1) }],
      ['encoder.blocks.4.attn.out_proj.bias', { shape: [1], data: new Float32Array(1) }],
      ['decoder.blocks.3.postconv.conv.weight', { shape: [1], data: new Float32Array(1) }],
    ]);
    expect([...fromMonaiCoreNames(selfAttn).keys()]).toEqual(['encoder.blocks.4.to_q.weight', 'encoder.blocks.4.proj_attn.bias', 'decoder.blocks.3.conv.conv.weight']);
    expect(looksLikeMonaiCore(st)).toBe(false);
  });
});

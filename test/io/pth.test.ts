import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readPthStateDict, readSafetensors, stateDictFromPth, type StateDict } from '../../src/ml/io';
import { hasShared, sharedPath } from '../helpers/shared';

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

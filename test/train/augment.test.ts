import { describe, expect, it } from 'vitest';
import { AUGMENT_AUTOENCODER, AUGMENT_NONE, affineResample, applyAugment, augmentPaired } from '../../src/ml/train/augment';
import { Rng } from '../../src/ml/util/rng';

const H = 8;
const W = 10;
const ramp = Float32Array.from({ length: H * W }, (_, i) => (Math.floor(i / W) * 3 + (i % W)) / 40);

describe('reference augmentations', () => {
  it('identity draw only clamps', () => {
    const out = applyAugment(ramp, H, W, { flip: false, affine: null, shift: null, gamma: null });
    expect(Array.from(out)).toEqual(Array.from(ramp).map((v) => Math.min(1, Math.max(0, Math.fround(v)))));
  });

  it('flips along rows (axis 0)', () => {
    const out = applyAugment(ramp, H, W, { flip: true, affine: null, shift: null, gamma: null });
    expect(out[0]).toBeCloseTo(ramp[(H - 1) * W]!, 6);
    expect(out[(H - 1) * W + 3]).toBeCloseTo(ramp[3]!, 6);
  });

  it('integer translation shifts pixels, with reflection at the edge', () => {
    const out = affineResample(ramp, H, W, { ty: 0, tx: 1, sy: 1, sx: 1 });
    expect(out[2 * W + 4]).toBeCloseTo(ramp[2 * W + 5]!, 6);
    // last column samples x = W, reflected about W-0.5 onto W-1
    expect(out[2 * W + (W - 1)]).toBeCloseTo(ramp[2 * W + (W - 1)]!, 6);
  });

  it('a unit scale about the centre is the identity and bilinear interpolates halfway', () => {
    expect(Array.from(affineResample(ramp, H, W, { ty: 0, tx: 0, sy: 1, sx: 1 }))).toEqual(Array.from(ramp));
    const half = affineResample(ramp, H, W, { ty: 0, tx: 0.5, sy: 1, sx: 1 });
    expect(half[W + 2]).toBeCloseTo((ramp[W + 2]! + ramp[W + 3]!) / 2, 6);
  });

  it('intensity shift and contrast follow the reference formulas, then clamp', () => {
    const img = Float32Array.from([0.1, 0.5, 0.9, 0.3]);
    const shifted = applyAugment(img, 2, 2, { flip: false, affine: null, shift: 0.05, gamma: null });
    expect(shifted[0]).toBeCloseTo(0.15, 6);
    const g = 1.03;
    const contrasted = applyAugment(img, 2, 2, { flip: false, affine: null, shift: null, gamma: g });
    expect(contrasted[1]).toBeCloseTo(((0.5 - 0.1) / (0.8 + 1e-7)) ** g * 0.8 + 0.1, 5);
    const clipped = applyAugment(img, 2, 2, { flip: false, affine: null, shift: 0.5, gamma: null });
    expect(Math.max(...clipped)).toBe(1);
  });

  it('pairs get the same draw and the stream is reproducible', () => {
    const a = augmentPaired([ramp, ramp], H, W, AUGMENT_AUTOENCODER, Rng.fromSeed(5));
    expect(Array.from(a[0]!)).toEqual(Array.from(a[1]!));
    const b = augmentPaired([ramp], H, W, AUGMENT_AUTOENCODER, Rng.fromSeed(5));
    expect(Array.from(b[0]!)).toEqual(Array.from(a[0]!));
    const none = augmentPaired([ramp], H, W, AUGMENT_NONE, Rng.fromSeed(5));
    expect(Array.from(none[0]!)).toEqual(Array.from(ramp));
  });
});

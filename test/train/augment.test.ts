import { describe, expect, it } from 'vitest';
import {
  AUGMENT_ANATOMY,
  AUGMENT_AUTOENCODER,
  AUGMENT_DIFFUSION,
  AUGMENT_NONE,
  affineResample,
  applyAugment,
  augmentPaired,
  augmentTable,
  drawAugment,
} from '../../src/ml/train/augment';
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

describe('anatomy augmentation', () => {
  const S = 9;
  // A bright pixel left of centre in an otherwise dark square image.
  const dot = new Float32Array(S * S);
  dot[4 * S + 2] = 1;

  it('rotates about the centre: a quarter turn moves a pixel left of centre to above it', () => {
    const out = affineResample(dot, S, S, { ty: 0, tx: 0, sy: 1, sx: 1, rot: Math.PI / 2 });
    // dst (r, c) samples src (r' , c') = R(dst - centre) + centre; dst (2, 4) maps to src (4, 2).
    expect(out[2 * S + 4]).toBeCloseTo(1, 5);
    expect(out[4 * S + 2]).toBeCloseTo(0, 5);
  });

  it('a zero elastic field is the identity and a uniform one translates', () => {
    const zero = { rows: 2, cols: 3, dy: new Float32Array(6), dx: new Float32Array(6) };
    expect(Array.from(affineResample(ramp, H, W, { ty: 0, tx: 0, sy: 1, sx: 1 }, zero))).toEqual(Array.from(ramp));
    const shift = { rows: 2, cols: 3, dy: new Float32Array(6), dx: new Float32Array(6).fill(1) };
    const moved = affineResample(ramp, H, W, { ty: 0, tx: 0, sy: 1, sx: 1 }, shift);
    expect(moved[2 * W + 4]).toBeCloseTo(ramp[2 * W + 5]!, 6);
  });

  it('the reference tables draw the same stream as before rotation and deformation existed', () => {
    for (const table of [AUGMENT_AUTOENCODER, AUGMENT_DIFFUSION]) {
      const a = Rng.fromSeed(11);
      const b = Rng.fromSeed(11);
      for (let i = 0; i < 20; i++) {
        const withSize = drawAugment(table, a, 80, 112);
        const without = drawAugment(table, b);
        expect(withSize.elastic).toBeNull();
        expect(withSize.affine?.rot).toBeUndefined();
        expect(withSize).toEqual(without);
      }
      expect(a.normal()).toBe(b.normal());
    }
  });

  it('draws rotations, scales and deformations within its ranges, the same for both images of a pair', () => {
    const rng = Rng.fromSeed(3);
    let rotated = 0;
    let deformed = 0;
    for (let i = 0; i < 200; i++) {
      const d = drawAugment(AUGMENT_ANATOMY, rng, 80, 112);
      if (d.affine) {
        expect(Math.abs(d.affine.rot!)).toBeLessThanOrEqual(AUGMENT_ANATOMY.rotate);
        expect(d.affine.sy).toBeGreaterThanOrEqual(0.9);
        expect(d.affine.sx).toBeLessThanOrEqual(1.1);
        if (d.affine.rot !== 0) rotated++;
      }
      if (d.elastic) {
        // Control points every 16 pixels span the 80x112 image.
        expect([d.elastic.rows, d.elastic.cols]).toEqual([6, 8]);
        deformed++;
      }
    }
    // affineProb 0.8 and elasticProb 0.5 over 200 draws.
    expect(rotated).toBeGreaterThan(130);
    expect(deformed).toBeGreaterThan(70);
    expect(deformed).toBeLessThan(130);
    const [a, b] = augmentPaired([ramp, ramp], H, W, AUGMENT_ANATOMY, Rng.fromSeed(8));
    expect(Array.from(a!)).toEqual(Array.from(b!));
  });

  it('maps each stage and setting to its table; older runs\' booleans keep working', () => {
    expect(augmentTable('anatomy', 'ldm')).toBe(AUGMENT_ANATOMY);
    expect(augmentTable('anatomy', 'autoencoder')).toBe(AUGMENT_ANATOMY);
    expect(augmentTable('reference', 'autoencoder')).toBe(AUGMENT_AUTOENCODER);
    expect(augmentTable('reference', 'controlnet')).toBe(AUGMENT_DIFFUSION);
    expect(augmentTable(true, 'ldm')).toBe(AUGMENT_DIFFUSION);
    expect(augmentTable('none', 'ldm')).toBeNull();
    expect(augmentTable(false, 'autoencoder')).toBeNull();
  });
});

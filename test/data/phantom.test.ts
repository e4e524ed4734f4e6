import { describe, expect, it } from 'vitest';
import { generatePhantomSubject, PHANTOM_AFFINE, TISSUE } from '../../src/ml/data/phantom';
import { matchMniGrid } from '../../src/ml/data/mni';

function meanBy(labels: Uint8Array, values: Float32Array, label: number): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === label) {
      sum += values[i]!;
      n++;
    }
  }
  expect(n, `voxels of tissue ${label}`).toBeGreaterThan(100);
  return sum / n;
}

describe('synthetic phantom', () => {
  const a = generatePhantomSubject(0, 0);
  const b = generatePhantomSubject(0, 1);

  it('lies on the FSL MNI152 1 mm grid', () => {
    expect(a.dims).toEqual([182, 218, 182]);
    expect(matchMniGrid(a.dims, PHANTOM_AFFINE)?.id).toBe('fsl-mni152-1mm');
  });

  it('has plausible contrasts: T1w WM > GM > CSF; FLAIR CSF dark, lesions bright in FLAIR and dark in T1w', () => {
    const t1 = (t: number) => meanBy(a.labels, a.t1w, t);
    const fl = (t: number) => meanBy(a.labels, a.flair, t);
    expect(t1(TISSUE.wm)).toBeGreaterThan(t1(TISSUE.gm));
    expect(t1(TISSUE.gm)).toBeGreaterThan(t1(TISSUE.csf));
    expect(t1(TISSUE.ventricle)).toBeLessThan(t1(TISSUE.gm));
    expect(fl(TISSUE.ventricle)).toBeLessThan(0.3 * fl(TISSUE.wm));
    expect(fl(TISSUE.lesion)).toBeGreaterThan(1.4 * fl(TISSUE.wm));
    expect(t1(TISSUE.lesion)).toBeLessThan(0.8 * t1(TISSUE.wm));
  });

  it('marks lesions in the mask exactly where the lesion tissue is', () => {
    let mask = 0;
    let agree = 0;
    for (let i = 0; i < a.labels.length; i++) {
      if (a.lesionMask[i]! > 0) {
        mask++;
        if (a.labels[i] === TISSUE.lesion) agree++;
      }
    }
    expect(mask).toBeGreaterThan(50);
    expect(agree).toBe(mask);
    expect(a.params.lesions).toBeGreaterThanOrEqual(2);
  });

  it('keeps background at exactly 0 (skull-stripped) and adds noise inside the brain', () => {
    expect(a.t1w[0]).toBe(0);
    expect(a.flair[a.flair.length - 1]).toBe(0);
    const wm = [];
    for (let i = 0; i < a.labels.length && wm.length < 2000; i++) if (a.labels[i] === TISSUE.wm) wm.push(a.t1w[i]!);
    expect(new Set(wm).size).toBeGreaterThan(1000);
  });

  it('is deterministic per (seed, index) and varies across subjects', () => {
    const again = generatePhantomSubject(0, 0);
    // Compare by hand: deep equality on 7M-element typed arrays is very slow in expect().
    const same = (x: Float32Array, y: Float32Array) => x.length === y.length && x.every((v, i) => v === y[i]);
    expect(same(again.t1w, a.t1w)).toBe(true);
    expect(same(again.lesionMask, a.lesionMask)).toBe(true);
    let differ = 0;
    for (let i = 0; i < a.labels.length; i++) if (a.labels[i] !== b.labels[i]) differ++;
    expect(differ).toBeGreaterThan(10000);
    expect(b.params).not.toEqual(a.params);
  });
});

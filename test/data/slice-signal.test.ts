import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generatePhantomSubject } from '../../src/ml/data/phantom';
import { MIN_SIGNAL_FRACTION, SIGNAL_LEVEL, hasSliceSignal, missingSignalMessage, signalFraction } from '../../src/ml/data/slice-signal';
import { SLICE_PIXELS } from '../../src/ml/data/slices';
import { writeNifti } from '../../src/ml/data/nifti';
import { subjectSignalProfile } from '../../src/ml/sample/slice';
import { hasOpenMs, openMsDir, tempDir } from './helpers';

const anat = (p: string, modality: string) => join(openMsDir, `sub-${p}`, 'anat', `sub-${p}_${modality}.nii.gz`);
const MINMAX = { method: 'minmax' as const, slices: 'brain-band' };

describe('slice signal measure', () => {
  it('counts the pixels above the level, as a fraction of the slice; 359 of 35840 pixels pass, 358 do not', () => {
    const slice = new Array<number>(SLICE_PIXELS).fill(0);
    expect(signalFraction(slice)).toBe(0);
    expect(hasSliceSignal(slice)).toBe(false);
    slice.fill(SIGNAL_LEVEL, 0, 1000); // at the level: not above it
    slice.fill(0.5, 1000, 1358);
    expect(signalFraction(slice)).toBeCloseTo(358 / SLICE_PIXELS, 12);
    expect(hasSliceSignal(slice)).toBe(false);
    slice[1358] = 0.06;
    expect(hasSliceSignal(slice)).toBe(true);
    expect(signalFraction(new Float32Array(SLICE_PIXELS).fill(1))).toBe(1);
  });

  it('names what was refused and the measured fraction', () => {
    expect(missingSignalMessage('sub-patient07 slice z=20', 0.0037)).toMatch(/^sub-patient07 slice z=20 has almost no signal: 0\.37% of the 160x224 FLAIR slice .*at least 1\.00%/);
  });

  it.skipIf(!hasOpenMs)('open MS: caps and empty slices fall under the minimum, mid-brain and the prepared band edges hold brain', async () => {
    for (const p of ['patient07', 'patient19', 'patient26']) {
      const fractions = await subjectSignalProfile({ flairPath: anat(p, 'FLAIR'), t1wPath: anat(p, 'T1w') }, MINMAX);
      expect(fractions).toHaveLength(182);
      // below the cerebellum and above the vertex: nothing
      for (const z of [0, 10, 150, 181]) expect(fractions[z], `${p} z=${z}`).toBe(0);
      // mid-brain: about 40% of the window is brain
      for (const z of [80, 84, 88]) expect(fractions[z], `${p} z=${z}`).toBeGreaterThan(0.35);
      // the prepared brain band (reference-sized slices) reaches down to about z=40 and up to z=130
      for (const z of [40, 130]) expect(fractions[z], `${p} z=${z}`).toBeGreaterThan(0.08);
      const max = Math.max(...fractions);
      expect(max).toBeLessThan(0.5);
      // slices with a few specks only (the caps' last slices) are refused
      const specks = fractions.flatMap((f, z) => (f > 0 && f < MIN_SIGNAL_FRACTION ? [z] : []));
      expect(specks.length, `${p}: slices with specks only`).toBeGreaterThan(0);
      for (const z of specks) expect(z < 30 || z > 135, `${p} z=${z} is a cap slice`).toBe(true);
    }
    // measured by hand for the comments in slice-signal.ts
    const p07 = await subjectSignalProfile({ flairPath: anat('patient07', 'FLAIR'), t1wPath: anat('patient07', 'T1w') }, MINMAX);
    expect(p07[20]).toBeCloseTo(0.0037, 3);
    expect(p07[80]).toBeCloseTo(0.418, 2);
  }, 120_000);

  it('the phantom: the same picture (empty outside z=25..142, about half the window mid-brain)', async () => {
    const t = tempDir('bs-signal-');
    try {
      const s = generatePhantomSubject(5, 0);
      const flairPath = join(t.dir, 'sub-ph_FLAIR.nii.gz');
      writeNifti(flairPath, { dims: s.dims, data: s.flair }, s.affine);
      const fractions = await subjectSignalProfile({ flairPath }, MINMAX);
      expect(fractions[10]).toBe(0);
      expect(fractions[160]).toBe(0);
      expect(fractions[85]).toBeGreaterThan(0.45);
      const usable = fractions.flatMap((f, z) => (f >= MIN_SIGNAL_FRACTION ? [z] : []));
      expect(usable[0]).toBeGreaterThan(20);
      expect(usable.at(-1)).toBeLessThan(145);
    } finally {
      t.cleanup();
    }
  }, 60_000);
});

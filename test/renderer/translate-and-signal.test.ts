import { describe, expect, it } from 'vitest';
import { missingSignalReason, type SignalProfile } from '../../src/renderer/src/views/generate/slice-signal';
import { volumeProgress } from '../../src/renderer/src/views/generate/volume-progress';

const profile: SignalProfile = { datasetId: 3, subject: 'sub-patient07', fractions: [0, 0.0037, 0.01, 0.42], level: 0.05, minFraction: 0.01 };

describe('Generate: the picked slice without signal disables Start', () => {
  it('gives the reason with the subject, the shown z and the measured fraction under the minimum', () => {
    expect(missingSignalReason(profile, { datasetId: 3, subject: 'sub-patient07', z: 20, lasZ: 1 })).toBe(
      'No signal: sub-patient07 z 20 has 0.37% of the slice above 5% of the brain intensity (generation needs at least 1.00%). Pick a slice inside the brain.',
    );
    expect(missingSignalReason(profile, { datasetId: 3, subject: 'sub-patient07', z: 0, lasZ: 0 })).toMatch(/has 0\.00% of the slice/);
  });

  it('lets a slice at or above the minimum through', () => {
    expect(missingSignalReason(profile, { datasetId: 3, subject: 'sub-patient07', z: 2, lasZ: 2 })).toBeNull();
    expect(missingSignalReason(profile, { datasetId: 3, subject: 'sub-patient07', z: 3, lasZ: 3 })).toBeNull();
  });

  it('blocks nothing with a profile of another subject or dataset (still loading), none, or a z it does not cover', () => {
    expect(missingSignalReason(profile, { datasetId: 3, subject: 'sub-patient19', z: 0, lasZ: 0 })).toBeNull();
    expect(missingSignalReason(profile, { datasetId: 4, subject: 'sub-patient07', z: 0, lasZ: 0 })).toBeNull();
    expect(missingSignalReason(null, { datasetId: 3, subject: 'sub-patient07', z: 0, lasZ: 0 })).toBeNull();
    expect(missingSignalReason(profile, { datasetId: 3, subject: 'sub-patient07', z: 9, lasZ: 9 })).toBeNull();
  });
});

describe('whole-volume translation progress', () => {
  it('projects the time left from the mean time per finished slice', () => {
    expect(volumeProgress(4, 100, 1_000, 9_000)).toEqual({ done: 4, total: 100, etaMs: 96 * 2_000 });
    expect(volumeProgress(100, 100, 1_000, 201_000).etaMs).toBe(0);
  });

  it('has no estimate before the first slice, without a start or a total', () => {
    expect(volumeProgress(0, 100, 1_000, 5_000).etaMs).toBeNull();
    expect(volumeProgress(3, 100, null, 5_000).etaMs).toBeNull();
    expect(volumeProgress(3, null, 1_000, 5_000)).toEqual({ done: 3, total: null, etaMs: null });
  });
});

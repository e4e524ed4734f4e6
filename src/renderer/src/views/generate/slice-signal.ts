/**
 * Whether the picked FLAIR slice may be generated from: the back end's per-slice signal profile
 * of the subject (generate.sliceSignal, the measure generate.slice refuses by) read at the slice.
 * Pure (unit-tested in Node).
 */

export interface SignalProfile {
  datasetId: number;
  subject: string;
  /** Fraction of the 160x224 slice above `level` of the brain intensity, per LAS z. */
  fractions: number[];
  level: number;
  minFraction: number;
}

export interface SignalSlice {
  datasetId: number;
  subject: string;
  /** The index the view shows. */
  z: number;
  /** The LAS index the profile (and generate.slice) uses. */
  lasZ: number;
}

const percent = (f: number) => `${(f * 100).toFixed(2)}%`;

/** The reason Start is disabled, or null when the slice has signal (or the profile is of another subject). */
export function missingSignalReason(profile: SignalProfile | null, slice: SignalSlice | null): string | null {
  if (!profile || !slice || profile.datasetId !== slice.datasetId || profile.subject !== slice.subject) return null;
  const fraction = profile.fractions[slice.lasZ];
  if (fraction === undefined || fraction >= profile.minFraction) return null;
  return (
    `No signal: ${slice.subject} z ${slice.z} has ${percent(fraction)} of the slice above ${Math.round(profile.level * 100)}% of the brain intensity ` +
    `(generation needs at least ${percent(profile.minFraction)}). Pick a slice inside the brain.`
  );
}

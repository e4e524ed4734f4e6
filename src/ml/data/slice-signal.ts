/**
 * Whether a normalised 160x224 slice holds enough brain to translate or score: the one criterion
 * that Generate (refusing a slice), whole-volume translation (skipping slices) and evaluations
 * (skipping slices of a split) share.
 *
 * The measure is the fraction of the slice's pixels above SIGNAL_LEVEL of the normalised intensity
 * (1 = the volume's bright brain). Measured on the open-MS subjects (MNI, skull-stripped: the
 * background is exactly 0, so levels of 0 to 20% move the fraction by tenths of a percent) and the
 * phantom: mid-brain slices hold 40-43% (phantom 53%), the edges of the prepared brain band 10-12%,
 * and the last few slices of each cap taper from about 1% to a handful of voxels (patient07:
 * z=17..25 hold 0.07-0.9%, z=140..142 0.8-0.01%; patient26 z=23..27 0.02-0.99%). Under
 * MIN_SIGNAL_FRACTION a slice holds specks of cortex or cerebellum at most: a model given it
 * invents a brain and scores it against an almost empty T1w.
 */

/** A pixel counts as signal above this normalised intensity (5% of the volume's brain intensity). */
export const SIGNAL_LEVEL = 0.05;

/** A slice with less than this fraction of its pixels above SIGNAL_LEVEL has no usable signal (1%: 358 of 35840 pixels). */
export const MIN_SIGNAL_FRACTION = 0.01;

/** Fraction (0..1) of the slice's pixels above `level`. */
export function signalFraction(slice: ArrayLike<number>, level: number = SIGNAL_LEVEL): number {
  if (slice.length === 0) return 0;
  let count = 0;
  for (let i = 0; i < slice.length; i++) if (slice[i]! > level) count++;
  return count / slice.length;
}

/** Whether a normalised slice holds enough signal to translate or score. */
export function hasSliceSignal(slice: ArrayLike<number>): boolean {
  return signalFraction(slice) >= MIN_SIGNAL_FRACTION;
}

/** A fraction as the messages print it ("0.37%"). */
export function formatSignalFraction(fraction: number): string {
  return `${(fraction * 100).toFixed(2)}%`;
}

/** Why a slice is refused, naming what it is (e.g. "sub-patient07 z=20") and the measured fraction. */
export function missingSignalMessage(what: string, fraction: number): string {
  return (
    `${what} has almost no signal: ${formatSignalFraction(fraction)} of the 160x224 FLAIR slice lies above ` +
    `${SIGNAL_LEVEL * 100}% of the brain intensity (at least ${formatSignalFraction(MIN_SIGNAL_FRACTION)} is needed); ` +
    'pick a slice inside the brain'
  );
}

/**
 * Progress of a whole-volume translation as the panel shows it: slices done of those with signal,
 * and the time left projected from the pace so far. Pure (unit-tested in Node).
 */

export interface VolumeProgressView {
  done: number;
  total: number | null;
  /** Milliseconds left at the pace so far; null before the first slice is finished. */
  etaMs: number | null;
}

/**
 * `startedAt` is when sampling began (the first progress event of the sampling phase), `now` the
 * time of the latest event; both in ms. The pace is the mean time per finished slice.
 */
export function volumeProgress(done: number, total: number | null, startedAt: number | null, now: number): VolumeProgressView {
  if (startedAt === null || total === null || done <= 0 || now <= startedAt) return { done, total, etaMs: null };
  const perSlice = (now - startedAt) / done;
  return { done, total, etaMs: Math.max(0, total - done) * perSlice };
}

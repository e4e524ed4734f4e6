import { percentileOf, type IntensityStats } from '../../components/niivue/volume-decode';

/**
 * Display windows (value range mapped black -> white) chosen per volume from its own intensity
 * distribution, so that one preset or one drag means the same for FLAIR and T1w although
 * their raw values differ.
 */
export type Window = [number, number];

export interface WindowPreset {
  id: string;
  label: string;
  /** Percentiles of the non-zero (head) voxels at black and white; null = the full value range. */
  percentiles: [number, number] | null;
}

export const WINDOW_PRESETS: WindowPreset[] = [
  { id: 'auto', label: 'Auto (0.5–99.5 %)', percentiles: [0.5, 99.5] },
  { id: 'tissue', label: 'Tissue contrast (10–99 %)', percentiles: [10, 99] },
  { id: 'bright', label: 'Bright spots (50–99.9 %)', percentiles: [50, 99.9] },
  { id: 'full', label: 'Full range (min–max)', percentiles: null },
];

export function presetWindow(stats: IntensityStats, preset: WindowPreset): Window {
  if (!preset.percentiles) return stats.max > stats.min ? [stats.min, stats.max] : [stats.min, stats.min + 1];
  const lo = percentileOf(stats, preset.percentiles[0]);
  const hi = percentileOf(stats, preset.percentiles[1]);
  return hi > lo ? [lo, hi] : [lo, lo + Math.max(1e-6, Math.abs(lo) * 1e-3)];
}

/** Pixels of horizontal drag that double (or halve) the window width. */
const WIDTH_DOUBLING_PX = 200;
/** Pixels of vertical drag that move the level by one reference width. */
const LEVEL_PX = 400;

/**
 * The window after a right-drag of (dx, dy) pixels from `start`: right widens (less contrast),
 * left narrows; up lowers the level (brighter), down raises it. `reference` is the volume's auto
 * window, so the same drag moves FLAIR and T1w by the same share of their own range.
 */
export function dragWindow(start: Window, reference: Window, dx: number, dy: number): Window {
  const refWidth = Math.max(1e-6, reference[1] - reference[0]);
  const width = Math.max(refWidth * 1e-3, (start[1] - start[0]) * 2 ** (dx / WIDTH_DOUBLING_PX));
  const level = (start[0] + start[1]) / 2 + (dy / LEVEL_PX) * refWidth;
  return [level - width / 2, level + width / 2];
}

/** "W 812 L 406": window width and level, rounded for reading. */
export function formatWindow(w: Window): string {
  const width = w[1] - w[0];
  const level = (w[0] + w[1]) / 2;
  return `W ${formatValue(width)} L ${formatValue(level)}`;
}

/** A voxel value with about four significant digits (integers stay integers). */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a >= 1000 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 0.01 ? v.toFixed(3) : v.toPrecision(3);
}

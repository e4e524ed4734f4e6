/**
 * Colour maps for the Generate view's difference and uncertainty maps. The back end sends those
 * maps as 8-bit grey PNGs (value*255); the view recolours them so small errors stay visible and
 * shows a colour bar in the maps' own units.
 */
export type Rgb = [number, number, number];

/** Control points of an inferno-like map (perceptually ordered, black -> purple -> orange -> pale yellow). */
const INFERNO: readonly Rgb[] = [
  [0, 0, 4],
  [40, 11, 84],
  [101, 21, 110],
  [159, 42, 99],
  [212, 72, 66],
  [245, 125, 21],
  [250, 193, 39],
  [252, 255, 164],
];

/** 256-entry lookup table (RGB triplets) interpolated linearly between the control points. */
export function buildLut(points: readonly Rgb[] = INFERNO): Uint8ClampedArray {
  const lut = new Uint8ClampedArray(256 * 3);
  const segments = points.length - 1;
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * segments;
    const k = Math.min(segments - 1, Math.floor(t));
    const f = t - k;
    const a = points[k]!;
    const b = points[k + 1]!;
    for (let c = 0; c < 3; c++) lut[i * 3 + c] = Math.round(a[c]! + (b[c]! - a[c]!) * f);
  }
  return lut;
}

export const INFERNO_LUT = buildLut();

/** Largest grey level (0..255) of an RGBA buffer's red channel (the PNGs are grey, R = G = B). */
export function maxGrey(rgba: Uint8ClampedArray): number {
  let max = 0;
  for (let i = 0; i < rgba.length; i += 4) if (rgba[i]! > max) max = rgba[i]!;
  return max;
}

/**
 * Recolours a grey RGBA buffer in place through `lut`, stretching grey levels [0, displayMax] onto
 * the whole map (displayMax 0 leaves the image black). Alpha is kept.
 */
export function colorize(rgba: Uint8ClampedArray, displayMax: number, lut: Uint8ClampedArray = INFERNO_LUT): void {
  const scale = displayMax > 0 ? 255 / displayMax : 0;
  for (let i = 0; i < rgba.length; i += 4) {
    const level = Math.min(255, Math.round(rgba[i]! * scale));
    rgba[i] = lut[level * 3]!;
    rgba[i + 1] = lut[level * 3 + 1]!;
    rgba[i + 2] = lut[level * 3 + 2]!;
  }
}

/** CSS linear-gradient of the map (left = 0), for the colour bar. */
export function lutGradient(lut: Uint8ClampedArray = INFERNO_LUT, stops = 9): string {
  const parts: string[] = [];
  for (let s = 0; s < stops; s++) {
    const level = Math.round((s / (stops - 1)) * 255);
    parts.push(`rgb(${lut[level * 3]}, ${lut[level * 3 + 1]}, ${lut[level * 3 + 2]}) ${((s / (stops - 1)) * 100).toFixed(1)}%`);
  }
  return `linear-gradient(to right, ${parts.join(', ')})`;
}

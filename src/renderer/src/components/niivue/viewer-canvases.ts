import { createViewer, type LayerSpec, type Viewer } from './useNiivue';

type Mm = [number, number, number];

/**
 * Attaches a NiiVue viewer to each named canvas that has none in `into`, one after another in the
 * order given, and adds it there as it comes (a missing canvas is skipped). A click in a viewer
 * reports its name and the world position, so the caller can move the other viewers' crosshairs.
 * Answers `into`; given a canvas for every name, it holds a viewer for every name.
 */
export async function attachViewers<S extends string>(canvases: Record<S, HTMLCanvasElement>, onClickMm: (side: S, mm: Mm) => void): Promise<Record<S, Viewer>>;
export async function attachViewers<S extends string>(
  canvases: Partial<Record<S, HTMLCanvasElement | null>>,
  onClickMm: (side: S, mm: Mm) => void,
  into?: Partial<Record<S, Viewer>>,
): Promise<Partial<Record<S, Viewer>>>;
export async function attachViewers<S extends string>(
  canvases: Partial<Record<S, HTMLCanvasElement | null>>,
  onClickMm: (side: S, mm: Mm) => void,
  into: Partial<Record<S, Viewer>> = {},
): Promise<Partial<Record<S, Viewer>>> {
  for (const side of Object.keys(canvases) as S[]) {
    const canvas = canvases[side];
    if (!into[side] && canvas) into[side] = await createViewer(canvas, (mm) => onClickMm(side, mm));
  }
  return into;
}

/** A grey base image shown between the two ends of a display window. */
export function windowedGray(nii: ArrayBuffer, name: string, window: readonly [number, number]): LayerSpec {
  return { nii, name, colormap: 'gray', opacity: 1, calMin: window[0], calMax: window[1] };
}

/** Frees the viewers' WebGL contexts now (the view is leaving) rather than at garbage collection. */
export function releaseViewerCanvases(canvases: readonly (HTMLCanvasElement | null)[]): void {
  for (const c of canvases) c?.getContext('webgl2')?.getExtension('WEBGL_lose_context')?.loseContext();
}

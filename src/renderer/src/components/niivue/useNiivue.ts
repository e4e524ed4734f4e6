import { DRAG_MODE, Niivue, NVImage, SHOW_RENDER, SLICE_TYPE } from '@niivue/niivue';
import { decodeFromUrl } from './volume-loader';
import { skipRenderGradients } from './skip-render-gradients';

/**
 * A NiiVue instance bound to one canvas, created once per canvas (NiiVue owns a WebGL2 context
 * per instance; re-creating it per subject would leak contexts). Volumes are replaced in place,
 * all layers at once: NiiVue re-blends every layer (and recomputes 3D gradients) on each change,
 * so adding base and overlays one by one would repeat the most expensive GPU work.
 */
export type ViewLayout = 'multiplanar' | 'axial' | 'coronal' | 'sagittal';
/** What dragging with the right mouse button does. */
export type RightDrag = 'window' | 'pan';

const SLICE_TYPES: Record<ViewLayout, SLICE_TYPE> = {
  multiplanar: SLICE_TYPE.MULTIPLANAR,
  axial: SLICE_TYPE.AXIAL,
  coronal: SLICE_TYPE.CORONAL,
  sagittal: SLICE_TYPE.SAGITTAL,
};

/**
 * Multiplanar as one large axial view (the plane slices are picked in) with coronal and
 * sagittal stacked beside it: fills a landscape canvas with no empty quadrant.
 */
const MULTIPLANAR_TILES: { sliceType: SLICE_TYPE; position: [number, number, number, number] }[] = [
  { sliceType: SLICE_TYPE.AXIAL, position: [0, 0, 0.58, 1] },
  { sliceType: SLICE_TYPE.CORONAL, position: [0.58, 0, 0.42, 0.5] },
  { sliceType: SLICE_TYPE.SAGITTAL, position: [0.58, 0.5, 0.42, 0.5] },
];

/** One image layer: an uncompressed NIfTI and how to draw it. */
export interface LayerSpec {
  nii: ArrayBuffer;
  name: string;
  colormap: string;
  opacity: number;
  calMin: number;
  calMax: number;
}

/** A served volume (see volumeSource) and how to draw it; the window defaults to the robust range. */
export interface VolumeSpec {
  url: string;
  name: string;
  headers: Record<string, string>;
  colormap: string;
  opacity: number;
  calMin?: number;
  calMax?: number;
}

export interface Viewer {
  nv: Niivue;
  /** World (mm) position of the crosshair. */
  crosshairMm(): [number, number, number];
  /** Moves the crosshair to a world position and redraws (no location event). */
  setCrosshairMm(mm: readonly number[]): void;
  setLayout(layout: ViewLayout): void;
  /**
   * Replaces all layers (index 0 is the base image) with one GPU update; with `atMm`, the
   * crosshair starts there (set before that update, so the first draw is the only one).
   */
  show(layers: LayerSpec[], atMm?: readonly number[]): Promise<NVImage[]>;
  /** Fetches and decodes served volumes off the main thread, then shows them as in show(). */
  load(volumes: VolumeSpec[]): Promise<NVImage[]>;
  /** Changes display properties of layers, recolours only the layers that need it, then redraws once. */
  update(changes: { index: number; opacity?: number; calMin?: number; calMax?: number }[]): void;
  /** Adds one layer on top; returns its image to remove it later. */
  addLayer(layer: LayerSpec): Promise<NVImage>;
  removeLayer(image: NVImage): void;
  setRightDrag(mode: RightDrag): void;
  /** 2D pan (mm) and zoom factor, as NiiVue keeps them: [x, y, z, zoom]. */
  panZoom(): [number, number, number, number];
  setPanZoom(pz: readonly number[]): void;
  /** World position (mm) under a client point, or null outside every slice tile. */
  mmAtClient(clientX: number, clientY: number): [number, number, number] | null;
  /** Scaled value of layer `index` at world position `mm` (nearest voxel), or null without such a layer. */
  valueAt(index: number, mm: readonly number[]): number | null;
}

function toImageOptions(layer: LayerSpec) {
  // The bytes are already gunzipped: the name must say .nii so NiiVue does not look for gzip.
  const name = layer.name.replace(/\.gz$/i, '');
  return { url: name, name, buffer: layer.nii, colormap: layer.colormap, opacity: layer.opacity, cal_min: layer.calMin, cal_max: layer.calMax };
}

export async function createViewer(canvas: HTMLCanvasElement, onClickMm: (mm: [number, number, number]) => void): Promise<Viewer> {
  const nv = new Niivue({
    backColor: [0.04, 0.05, 0.07, 1],
    crosshairColor: [0.31, 0.72, 0.77, 0.9],
    show3Dcrosshair: false,
    isColorbar: false,
    multiplanarShowRender: SHOW_RENDER.NEVER,
    dragAndDropEnabled: false,
    loadingText: '',
    isRadiologicalConvention: false,
    // Every edge labelled (R as well as L, I as well as S) rather than only two per tile.
    showAllOrientationMarkers: true,
    // The page owns right-drag (window/level for both viewers, or pan): see setRightDrag.
    dragMode: DRAG_MODE.none,
    trustCalMinMax: true,
  });
  await nv.attachToCanvas(canvas);
  // Slices only (no 3D render tile): the render-only gradient pass would be most of each upload.
  skipRenderGradients(nv);
  nv.setSliceType(SLICE_TYPE.MULTIPLANAR);
  nv.setCustomLayout(MULTIPLANAR_TILES);
  const crosshairMm = () => Array.from(nv.frac2mm(nv.scene.crosshairPos, 0, true)).slice(0, 3) as [number, number, number];
  nv.onLocationChange = () => {
    if (nv.volumes.length > 0) onClickMm(crosshairMm());
  };

  const replaceVolumes = (images: NVImage[], atMm?: readonly number[]) => {
    nv.volumes = images;
    nv.back = images[0] ?? null;
    nv.overlays = images.slice(1);
    // mm2frac reads the images' own geometry, not the GPU state: valid before the update.
    if (atMm && images.length > 0) nv.scene.crosshairPos = nv.mm2frac([atMm[0]!, atMm[1]!, atMm[2]!], 0, true);
    nv.updateGLVolume();
  };

  // Parse and GPU-update times go to the page's performance timeline (DevTools, benchmarks).
  const show = async (layers: LayerSpec[], atMm?: readonly number[]): Promise<NVImage[]> => {
    const parsing = performance.now();
    const images = await Promise.all(layers.map((l) => NVImage.loadFromUrl(toImageOptions(l))));
    const updating = performance.now();
    performance.measure('niivue:parse', { start: parsing, end: updating });
    replaceVolumes(images, atMm);
    performance.measure('niivue:gpu-update', { start: updating });
    return images;
  };

  return {
    nv,
    crosshairMm,
    setCrosshairMm(mm) {
      if (nv.volumes.length === 0) return;
      nv.scene.crosshairPos = nv.mm2frac([mm[0]!, mm[1]!, mm[2]!], 0, true);
      nv.drawScene();
    },
    setLayout(layout) {
      if (layout === 'multiplanar') nv.setCustomLayout(MULTIPLANAR_TILES);
      else nv.clearCustomLayout();
      nv.setSliceType(SLICE_TYPES[layout]);
    },
    show,
    async load(volumes) {
      const decoded = await Promise.all(volumes.map((v) => decodeFromUrl(v)));
      return show(
        volumes.map((v, i) => {
          const d = decoded[i]!;
          return { nii: d.nii, name: v.name, colormap: v.colormap, opacity: v.opacity, calMin: v.calMin ?? d.defaultWindow[0], calMax: v.calMax ?? d.defaultWindow[1] };
        }),
      );
    },
    update(changes) {
      let base = false;
      let overlays = false;
      for (const c of changes) {
        const v = nv.volumes[c.index];
        if (!v) continue;
        if (c.opacity !== undefined) v.opacity = c.opacity;
        if (c.calMin !== undefined) v.cal_min = c.calMin;
        if (c.calMax !== undefined) v.cal_max = c.calMax;
        if (c.index === 0) base = true;
        else overlays = true;
      }
      // NiiVue colours the base into its own texture and the overlays, in order, into a shared
      // one: a window change of the base redoes only the base (as NiiVue's own window drag does),
      // a change of any overlay redoes the overlays, never the whole stack.
      if (base) nv.refreshLayers(nv.volumes[0]!, 0);
      if (overlays) for (let i = 1; i < nv.volumes.length; i++) nv.refreshLayers(nv.volumes[i]!, i);
      if (base || overlays) nv.drawScene();
    },
    async addLayer(layer) {
      const image = await NVImage.loadFromUrl(toImageOptions(layer));
      replaceVolumes([...nv.volumes, image]);
      return image;
    },
    removeLayer(image) {
      if (nv.volumes.includes(image)) replaceVolumes(nv.volumes.filter((v) => v !== image));
    },
    setRightDrag(mode) {
      nv.opts.dragMode = mode === 'pan' ? DRAG_MODE.pan : DRAG_MODE.none;
    },
    panZoom() {
      const p = nv.scene.pan2Dxyzmm;
      return [p[0]!, p[1]!, p[2]!, p[3]!];
    },
    setPanZoom(pz) {
      nv.scene.pan2Dxyzmm = [pz[0]!, pz[1]!, pz[2]!, pz[3]!];
      nv.drawScene();
    },
    mmAtClient(clientX, clientY) {
      if (nv.volumes.length === 0) return null;
      const box = canvas.getBoundingClientRect();
      const dpr = nv.uiData.dpr ?? window.devicePixelRatio ?? 1;
      const frac = nv.canvasPos2frac([(clientX - box.left) * dpr, (clientY - box.top) * dpr]);
      if (!(frac[0]! >= 0)) return null;
      return Array.from(nv.frac2mm(frac, 0, true)).slice(0, 3) as [number, number, number];
    },
    valueAt(index, mm) {
      const v = nv.volumes[index];
      if (!v) return null;
      // NiiVue's own readout path: its voxel indices are not the file's when the file is not RAS.
      const vox = v.mm2vox([mm[0]!, mm[1]!, mm[2]!]);
      return v.getValue(vox[0]!, vox[1]!, vox[2]!);
    },
  };
}

import { Niivue, NVImage, SHOW_RENDER, SLICE_TYPE } from '@niivue/niivue';

/**
 * A NiiVue instance bound to one canvas, created once per canvas (NiiVue owns a WebGL2 context
 * per instance; re-creating it per subject would leak contexts). Volumes are replaced in place.
 */
export type ViewLayout = 'multiplanar' | 'axial' | 'coronal' | 'sagittal';

const SLICE_TYPES: Record<ViewLayout, SLICE_TYPE> = {
  multiplanar: SLICE_TYPE.MULTIPLANAR,
  axial: SLICE_TYPE.AXIAL,
  coronal: SLICE_TYPE.CORONAL,
  sagittal: SLICE_TYPE.SAGITTAL,
};

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
  load(volumes: VolumeSpec[]): Promise<void>;
  setOpacity(index: number, opacity: number): void;
  /** Adds an overlay from bytes (a user-chosen file); returns the NVImage to remove it later. */
  addOverlay(buffer: ArrayBuffer, name: string, colormap: string, opacity: number): Promise<NVImage>;
  removeOverlay(image: NVImage): void;
}

export async function createViewer(canvas: HTMLCanvasElement, onClickMm: (mm: [number, number, number]) => void): Promise<Viewer> {
  const nv = new Niivue({
    backColor: [0.04, 0.05, 0.07, 1],
    crosshairColor: [0.31, 0.72, 0.77, 0.9],
    show3Dcrosshair: false,
    isColorbar: false,
    multiplanarShowRender: SHOW_RENDER.NEVER,
    dragAndDropEnabled: false,
    loadingText: 'loading...',
    isRadiologicalConvention: false,
  });
  await nv.attachToCanvas(canvas);
  nv.setSliceType(SLICE_TYPE.MULTIPLANAR);
  const crosshairMm = () => Array.from(nv.frac2mm(nv.scene.crosshairPos, 0, true)).slice(0, 3) as [number, number, number];
  nv.onLocationChange = () => {
    if (nv.volumes.length > 0) onClickMm(crosshairMm());
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
      nv.setSliceType(SLICE_TYPES[layout]);
    },
    async load(volumes) {
      await nv.loadVolumes(
        volumes.map((v) => ({
          url: v.url,
          name: v.name,
          headers: v.headers,
          colormap: v.colormap,
          opacity: v.opacity,
          ...(v.calMin !== undefined ? { cal_min: v.calMin } : {}),
          ...(v.calMax !== undefined ? { cal_max: v.calMax } : {}),
        })),
      );
    },
    setOpacity(index, opacity) {
      if (index < nv.volumes.length) nv.setOpacity(index, opacity);
    },
    async addOverlay(buffer, name, colormap, opacity) {
      const image = await NVImage.loadFromUrl({ url: name, name, buffer, colormap, opacity });
      nv.addVolume(image);
      return image;
    },
    removeOverlay(image) {
      if (nv.volumes.includes(image)) nv.removeVolume(image);
    },
  };
}

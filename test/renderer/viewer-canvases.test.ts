import { beforeEach, describe, expect, it, vi } from 'vitest';

// NiiVue needs WebGL2: createViewer is replaced by a stand-in that records which canvas it was
// given and keeps the click callback, so a click can be simulated.
const created: { canvas: HTMLCanvasElement; click: (mm: [number, number, number]) => void }[] = [];
vi.mock('../../src/renderer/src/components/niivue/useNiivue', () => ({
  createViewer: vi.fn(async (canvas: HTMLCanvasElement, click: (mm: [number, number, number]) => void) => {
    created.push({ canvas, click });
    return { canvas };
  }),
}));

const { attachViewers, releaseViewerCanvases, windowedGray } = await import('../../src/renderer/src/components/niivue/viewer-canvases');

const canvas = (name: string) => ({ name }) as unknown as HTMLCanvasElement;
const canvasOf = (viewer: unknown) => (viewer as { canvas: HTMLCanvasElement }).canvas;

beforeEach(() => {
  created.length = 0;
});

describe('attachViewers', () => {
  it('attaches one viewer per canvas in the order given, and reports clicks with the side', async () => {
    const flair = canvas('flair');
    const t1w = canvas('t1w');
    const clicks: [string, number[]][] = [];
    const viewers = await attachViewers({ flair, t1w }, (side, mm) => clicks.push([side, mm]));
    expect(created.map((c) => c.canvas)).toEqual([flair, t1w]);
    expect(canvasOf(viewers.flair)).toBe(flair);
    expect(canvasOf(viewers.t1w)).toBe(t1w);
    created[1]!.click([1, 2, 3]);
    created[0]!.click([4, 5, 6]);
    expect(clicks).toEqual([
      ['t1w', [1, 2, 3]],
      ['flair', [4, 5, 6]],
    ]);
  });

  it('keeps the viewers it is given, skips missing canvases and adds the new ones to the same object', async () => {
    const synth = canvas('synth');
    const into = await attachViewers<'synth' | 'flair'>({ synth, flair: null }, () => undefined);
    expect(Object.keys(into)).toEqual(['synth']);
    const first = into.synth;

    const flair = canvas('flair');
    const again = await attachViewers({ synth, flair }, () => undefined, into);
    expect(again).toBe(into);
    expect(again.synth).toBe(first);
    expect(canvasOf(again.flair)).toBe(flair);
    expect(created.map((c) => c.canvas)).toEqual([synth, flair]);
  });
});

describe('windowedGray', () => {
  it('is an opaque grey layer between the window ends', () => {
    const nii = new ArrayBuffer(8);
    expect(windowedGray(nii, 'sub-01_T1w.nii', [10, 250])).toEqual({ nii, name: 'sub-01_T1w.nii', colormap: 'gray', opacity: 1, calMin: 10, calMax: 250 });
  });
});

describe('releaseViewerCanvases', () => {
  it("loses each canvas's WebGL2 context and passes over missing canvases and contexts", () => {
    const lost: string[] = [];
    const withContext = (name: string) =>
      ({
        getContext: (kind: string) => (kind === 'webgl2' ? { getExtension: (ext: string) => (ext === 'WEBGL_lose_context' ? { loseContext: () => lost.push(name) } : null) } : null),
      }) as unknown as HTMLCanvasElement;
    const noContext = { getContext: () => null } as unknown as HTMLCanvasElement;
    releaseViewerCanvases([withContext('a'), null, noContext, withContext('b')]);
    expect(lost).toEqual(['a', 'b']);
  });
});

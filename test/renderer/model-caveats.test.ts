import { describe, expect, it } from 'vitest';
import { modelCaveats } from '../../src/renderer/src/views/generate/model-caveats';

const datasets = [
  { id: 1, name: 'phantom', synthetic: true },
  { id: 2, name: 'open-ms', synthetic: false },
  { id: 3, name: 'site-b', synthetic: false },
];
const run = (over: Partial<{ id: number; status: string; datasetId: number | null; config: Record<string, unknown> }> = {}) => ({
  id: 7,
  status: 'completed',
  datasetId: 2,
  config: { loop: { epochs: 150 } },
  ...over,
});
const slice = (over: Partial<{ datasetId: number; datasetName: string; inPrepared: boolean; synthetic: boolean }> = {}) => ({
  datasetId: 2,
  datasetName: 'open-ms',
  inPrepared: true,
  synthetic: false,
  ...over,
});

describe('model caveats beside Generate', () => {
  it('says nothing for a finished model applied to its own data inside the band', () => {
    expect(modelCaveats(run(), slice(), datasets)).toEqual([]);
    expect(modelCaveats(null, slice(), datasets)).toEqual([]);
  });

  it('names another dataset, the phantom, a smoke run, an unfinished run and an edge slice', () => {
    expect(modelCaveats(run(), slice({ datasetId: 3, datasetName: 'site-b' }), datasets).map((c) => c.kind)).toEqual(['other-dataset']);
    expect(modelCaveats(run({ datasetId: 1 }), slice(), datasets).map((c) => c.kind)).toEqual(['phantom']);
    // A phantom model on phantom slices is a demo, not a mismatch.
    expect(modelCaveats(run({ datasetId: 1 }), slice({ datasetId: 1, datasetName: 'phantom', synthetic: true }), datasets)).toEqual([]);
    const smoke = modelCaveats(run({ config: { loop: { epochs: 1 } }, status: 'cancelled' }), slice({ inPrepared: false }), datasets);
    expect(smoke.map((c) => c.kind)).toEqual(['smoke', 'unfinished', 'outside-band']);
    expect(smoke[0]!.text).toContain('1 epoch (a smoke run)');
  });
});

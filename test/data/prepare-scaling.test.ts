import { afterAll, describe, expect, it } from 'vitest';
import { createPhantomDataset, prepareDataset } from '../../src/backend/data/datasets';
import { loadPreparedSlices } from '../../src/ml/data/prepare';
import { tempHome } from './helpers';

/**
 * Which intensity scaling a dataset gets: percentile for one prepared the first time, min-max
 * when asked for, and an earlier choice kept when the dataset is prepared again without one.
 */
describe('prepare: default intensity scaling', () => {
  const env = tempHome();
  afterAll(() => env.cleanup());

  it('percentile for a new dataset, min-max one option away, the earlier choice kept on re-prepare', async () => {
    const ds = await createPhantomDataset(env.store, env.home, { name: 'phantom', subjects: 3, seed: 3 });
    const opts = { slices: '88:90', pinned: { 'sub-phantom01': 'train', 'sub-phantom02': 'validation', 'sub-phantom03': 'test' } as const };

    const first = await prepareDataset(env.store, env.home, ds.id, opts);
    expect(first.dataset.normalisation).toBe('percentile');
    expect(first.index.percentiles).toEqual([0.5, 99.5]);
    expect(first.index.subjects[0]!.stats.t1w).toMatchObject({ method: 'percentile' });
    const pct = loadPreparedSlices(first.cacheDir, { split: 'train' });

    const minmax = await prepareDataset(env.store, env.home, ds.id, { ...opts, normalisation: 'minmax' });
    expect(minmax.dataset.normalisation).toBe('minmax');
    expect(minmax.index.percentiles).toBeNull();
    // The same slices, scaled differently: percentile clips the brightest 0.5% to 1.
    const mm = loadPreparedSlices(minmax.cacheDir, { split: 'train' });
    expect(mm.count).toBe(pct.count);
    expect(Math.max(...mm.t1w)).toBeLessThanOrEqual(1);
    expect(mm.t1w.filter((v) => v >= 0.999).length).toBeLessThan(pct.t1w.filter((v) => v >= 0.999).length);

    const again = await prepareDataset(env.store, env.home, ds.id, opts);
    expect(again.dataset.normalisation).toBe('minmax');
  }, 600_000);
});

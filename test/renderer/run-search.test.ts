import { describe, expect, it } from 'vitest';
import { matchesSearch } from '../../src/renderer/src/views/experiments/run-search';

const run = {
  id: 12,
  name: 'ae small',
  datasetName: 'open-ms',
  backend: 'wasm',
  status: 'completed' as const,
  stage: 'autoencoder' as const,
  tags: ['Baseline', 'lr sweep'],
  notes: 'KL weight too high; retry with 1e-7',
};

describe('Experiments search', () => {
  it('finds a run by id, name and dataset as before', () => {
    expect(matchesSearch(run, '#12')).toBe(true);
    expect(matchesSearch(run, '1')).toBe(false);
    expect(matchesSearch(run, 'SMALL')).toBe(true);
    expect(matchesSearch(run, 'open')).toBe(true);
    expect(matchesSearch(run, '  ')).toBe(true);
  });

  it('also matches its tags and notes, ignoring case', () => {
    expect(matchesSearch(run, 'baseline')).toBe(true);
    expect(matchesSearch(run, 'LR SW')).toBe(true);
    expect(matchesSearch(run, 'kl weight')).toBe(true);
    expect(matchesSearch(run, 'paper')).toBe(false);
    expect(matchesSearch({ ...run, notes: '', tags: [] }, 'baseline')).toBe(false);
  });
});

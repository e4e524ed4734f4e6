import { describe, expect, it } from 'vitest';
import { commonMetricNames, compareKind, configDiff, primaryKeyValue } from '../../src/renderer/src/views/experiments/run-compare';

describe('run compare helpers', () => {
  it('lets completed evaluations and started training runs join a compare', () => {
    expect(compareKind({ stage: 'evaluation', status: 'completed' })).toBe('evaluation');
    expect(compareKind({ stage: 'evaluation', status: 'running' })).toBeNull();
    expect(compareKind({ stage: 'autoencoder', status: 'running' })).toBe('training');
    expect(compareKind({ stage: 'ldm', status: 'failed' })).toBe('training');
    expect(compareKind({ stage: 'controlnet', status: 'queued' })).toBeNull();
  });

  it('sorts the key metrics column by the first key metric', () => {
    const row = (name: string, split: string, last: number, mean?: number) => ({ name, split, last, best: last, lastStep: 1, bestStep: 1, count: 1, goal: null, mean });
    expect(primaryKeyValue({ stage: 'ldm', summary: [row('loss', 'train', 0.4)] })).toBe(0.4);
    expect(primaryKeyValue({ stage: 'evaluation', summary: [row('psnr', 'test', 30, 24)] })).toBe(24);
    expect(primaryKeyValue({ stage: 'ldm', summary: null })).toBeNull();
  });

  it('diffs configs key by key, marking keys one run lacks', () => {
    const a = { lr: 1e-4, epochs: 10, model: { channels: [32, 64] }, seed: 1 };
    const b = { lr: 5e-5, epochs: 10, model: { channels: [32, 64] } };
    const diff = configDiff([a, b]);
    expect(diff.map((r) => r.path)).toEqual(['lr', 'seed']);
    expect(diff.find((r) => r.path === 'seed')?.values).toEqual(['1', '—']);
    expect(configDiff([a, b], true).length).toBeGreaterThan(diff.length);
  });

  it('offers the metrics every run logs, the shared loss first', () => {
    expect(commonMetricNames([['loss', 'l1_loss', 'kl_loss'], ['l1_loss', 'loss']], 'l1_loss')).toEqual(['l1_loss', 'loss']);
    expect(commonMetricNames([['loss'], ['psnr']], null)).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { flattenConfig, formatDuration, formatMetric, runDurationMs } from '../../src/renderer/src/format';
import { keyMetrics, orderMetricRows } from '../../src/renderer/src/api/key-metrics';
import type { MetricSummaryRow } from '../../src/renderer/src/api/types';

describe('run durations', () => {
  it('formats durations from milliseconds to days', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(12_340)).toBe('12.3 s');
    expect(formatDuration(245_000)).toBe('4 min 05 s');
    expect(formatDuration(7_380_000)).toBe('2 h 03 min');
    expect(formatDuration(3 * 86_400_000 + 4 * 3_600_000)).toBe('3 d 4 h');
    expect(formatDuration(null)).toBe('—');
  });

  it('measures started -> finished, counts a running run up to now, and leaves unstarted runs empty', () => {
    const startedAt = '2026-01-01T10:00:00.000Z';
    expect(runDurationMs({ status: 'completed', startedAt, finishedAt: '2026-01-01T10:01:30.000Z' })).toBe(90_000);
    expect(runDurationMs({ status: 'running', startedAt, finishedAt: null }, Date.parse(startedAt) + 5000)).toBe(5000);
    expect(runDurationMs({ status: 'created', startedAt: null, finishedAt: null })).toBeNull();
  });
});

describe('metric values', () => {
  it('keeps four significant digits and switches to exponents for tiny or huge values', () => {
    expect(formatMetric(0.123456)).toBe('0.1235');
    expect(formatMetric(27.3456)).toBe('27.35');
    expect(formatMetric(1.5e-8)).toBe('1.500e-8');
    expect(formatMetric(0)).toBe('0');
    expect(formatMetric(null)).toBe('—');
  });
});

describe('run config tree', () => {
  it('flattens nested config into indented rows with dotted paths and inline scalar arrays', () => {
    const rows = flattenConfig({ seed: 42, autoencoder: { num_channels: [64, 128, 128], attention: false, norm: null }, tags: [] });
    expect(rows).toEqual([
      { path: 'seed', key: 'seed', depth: 0, value: '42', kind: 'number' },
      { path: 'autoencoder', key: 'autoencoder', depth: 0, value: null, kind: 'group' },
      { path: 'autoencoder.num_channels', key: 'num_channels', depth: 1, value: '[64, 128, 128]', kind: 'string' },
      { path: 'autoencoder.attention', key: 'attention', depth: 1, value: 'false', kind: 'boolean' },
      { path: 'autoencoder.norm', key: 'norm', depth: 1, value: 'null', kind: 'null' },
      { path: 'tags', key: 'tags', depth: 0, value: '[]', kind: 'empty' },
    ]);
  });

  it('indexes arrays of objects', () => {
    const rows = flattenConfig({ stages: [{ lr: 1e-4 }] });
    expect(rows.map((r) => r.path)).toEqual(['stages', 'stages[0]', 'stages[0].lr']);
  });

  it('gives an empty config no rows', () => {
    expect(flattenConfig({})).toEqual([]);
  });
});

describe('key metrics in the run list', () => {
  const m = (name: string, split: string, last: number, best: number): MetricSummaryRow => ({
    name,
    split,
    last,
    lastStep: 10,
    best,
    bestStep: 5,
    count: 11,
    goal: null,
  });

  it('shows the same named loss for train and best validation', () => {
    // The autoencoder logs a weighted total only for training; validation logs its parts.
    const summary = [m('loss', 'train', 0.5, 0.4), m('l1_loss', 'train', 0.2, 0.1), m('kl_loss', 'train', 4587, 4000), m('l1_loss', 'validation', 0.3, 0.25), m('kl_loss', 'validation', 4600, 4500)];
    expect(keyMetrics('autoencoder', summary).map((k) => [k.label, k.value])).toEqual([
      ['train l1_loss', 0.2],
      ['best val l1_loss', 0.25],
    ]);
    // When both splits log the total, it is the one.
    expect(keyMetrics('ldm', [m('loss', 'train', 0.5, 0.4), m('loss', 'validation', 0.6, 0.55)]).map((k) => k.value)).toEqual([0.5, 0.55]);
    expect(keyMetrics('ldm', [m('loss', 'train', 0.5, 0.4)]).map((k) => k.label)).toEqual(['train loss']);
    expect(keyMetrics('autoencoder', [])).toEqual([]);
  });

  it('shows an evaluation as its mean PSNR and MS-SSIM, not its last per-image row', () => {
    const summary = [
      { ...m('psnr', 'test', 31, 33), mean: 25 },
      { ...m('ms_ssim', 'test', 0.9, 0.95), mean: 0.85 },
      { ...m('baseline_identity_mae', 'test', 0.3, 0.1), mean: 0.2 },
    ];
    expect(keyMetrics('evaluation', summary)).toEqual([
      { label: 'PSNR', name: 'psnr', value: 25, unit: 'dB' },
      { label: 'MS-SSIM', name: 'ms_ssim', value: 0.85, unit: '' },
    ]);
  });

  it('orders the run page metric table by name, train before validation', () => {
    const rows = orderMetricRows([m('loss', 'validation', 1, 1), m('kl_loss', 'train', 1, 1), m('loss', 'train', 1, 1)]);
    expect(rows.map((r) => `${r.name}/${r.split}`)).toEqual(['kl_loss/train', 'loss/train', 'loss/validation']);
  });
});

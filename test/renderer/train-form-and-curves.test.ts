import { describe, expect, it } from 'vitest';
import { alignSeries, ema } from '../../src/renderer/src/composables/curve-data';
import { configFields, fieldOfError, localError, toOverrides } from '../../src/renderer/src/views/train/config-fields';

const base = {
  stage: 'autoencoder',
  preset: 'desktop',
  imageSize: [80, 112],
  augment: true,
  loop: { epochs: 8, batchSize: 8, seed: 42 },
  autoencoder: { network: { num_channels: [16, 32, 32], norm_num_groups: 8 }, lr: 0.0002, perceptualNetwork: null, perceptual: { name: null } },
};
const reference = {
  stage: 'autoencoder',
  preset: 'reference',
  imageSize: [160, 224],
  augment: true,
  loop: { epochs: 100, batchSize: 256, seed: 42 },
  autoencoder: { network: { num_channels: [128, 256, 256, 512] }, lr: 1e-5, perceptualNetwork: null },
};

describe('Train view config form', () => {
  const fields = configFields(base, reference);

  it('lists every leaf with its value and the reference value, sections once, hidden keys out', () => {
    expect(fields.map((f) => f.path)).toEqual([
      'imageSize',
      'augment',
      'loop.epochs',
      'loop.batchSize',
      'autoencoder.lr',
      'autoencoder.perceptualNetwork',
      'autoencoder.network.num_channels',
      'autoencoder.network.norm_num_groups',
    ]);
    const lr = fields.find((f) => f.path === 'autoencoder.lr')!;
    expect(lr).toMatchObject({ section: 'autoencoder', key: 'lr', kind: 'number', text: '0.0002', reference: '0.00001' });
    expect(fields.find((f) => f.path === 'imageSize')).toMatchObject({ section: 'general', kind: 'json', text: '[80,112]', reference: '[160,224]' });
    // A key the reference lacks shows no reference value.
    expect(fields.find((f) => f.path === 'autoencoder.network.norm_num_groups')!.reference).toBeNull();
  });

  it('a field that takes one of a few words lists them; other fields and older booleans do not', () => {
    const choices = { augment: ['none', 'reference', 'anatomy'], 'loop.lrSchedule': ['constant', 'warmup-cosine'] };
    const withWords = configFields({ ...base, augment: 'anatomy' }, { ...reference, augment: 'reference' }, choices);
    expect(withWords.find((f) => f.path === 'augment')).toMatchObject({ kind: 'string', text: 'anatomy', reference: 'reference', choices: ['none', 'reference', 'anatomy'] });
    expect(withWords.find((f) => f.path === 'loop.epochs')!.choices).toBeUndefined();
    const older = configFields(base, reference, choices).find((f) => f.path === 'augment')!;
    expect(older.kind).toBe('boolean');
    expect(older.choices).toBeUndefined();
    expect(toOverrides(withWords, { augment: 'none' })).toEqual(['augment=none']);
  });

  it('turns changed fields into --set overrides and leaves unchanged ones to the preset', () => {
    const edits = { 'loop.epochs': '1', 'loop.batchSize': ' 8 ', imageSize: '[20, 28]', augment: 'false' };
    expect(toOverrides(fields, edits)).toEqual(['imageSize=[20, 28]', 'augment=false', 'loop.epochs=1']);
  });

  it('catches type errors locally', () => {
    const f = (p: string) => fields.find((x) => x.path === p)!;
    expect(localError(f('loop.epochs'), 'ten')).toBe('expected a number');
    expect(localError(f('loop.epochs'), '3')).toBeNull();
    expect(localError(f('imageSize'), '[20, 28')).toMatch(/expected JSON/);
    expect(localError(f('autoencoder.perceptualNetwork'), '/models/vgg/model.json')).toBeNull();
    // A time budget is a number or null (none); other numbers are not nullable.
    const budget = { path: 'loop.budgetMinutes', section: 'loop', key: 'budgetMinutes', kind: 'number' as const, text: '15', reference: 'null' };
    expect(localError(budget, 'null')).toBeNull();
    expect(localError(budget, '20')).toBeNull();
    expect(localError(budget, 'soon')).toBe('expected a number');
    expect(localError(f('loop.epochs'), 'null')).toBe('expected a number');
  });

  it('puts a back-end refusal on the field it names (the longest path, else the section)', () => {
    expect(fieldOfError(fields, 'loop.batchSize must be an integer >= 1, got 0')).toBe('loop.batchSize');
    expect(fieldOfError(fields, 'imageSize [81,112] must be 160x224 divided by one whole factor')).toBe('imageSize');
    expect(fieldOfError(fields, '--set autoencoder.lr: expected a number, got "x"')).toBe('autoencoder.lr');
    expect(fieldOfError(fields, 'autoencoder.network: num_channels must be divisible by norm_num_groups')).toBe('autoencoder.network.num_channels');
    expect(fieldOfError(fields, 'the ldm stage needs a parent autoencoder run')).toBeNull();
    expect(fieldOfError(fields, null)).toBeNull();
  });
});

describe('loss chart data', () => {
  it('smooths with a debiased EMA (weight 0 = raw) and passes non-finite values through', () => {
    expect(ema([1, 2, 3], 0)).toEqual([1, 2, 3]);
    const s = ema([2, 2, 2, 2], 0.9);
    for (const v of s) expect(v).toBeCloseTo(2, 12);
    const step = ema([0, 10], 0.5);
    expect(step[0]).toBe(0);
    expect(step[1]).toBeCloseTo((0.5 * 0 * 0.5 + 0.5 * 10) / (1 - 0.25), 12);
    expect(ema([1, NaN, 1], 0.5)[1]).toBeNaN();
  });

  it('aligns series with different steps on their union, null where one has no point', () => {
    const { x, y } = alignSeries(
      [
        [0, 1, 2, 3],
        [1, 3, 5],
      ],
      [
        [10, 11, 12, 13],
        [0.1, 0.3, 0.5],
      ],
    );
    expect(x).toEqual([0, 1, 2, 3, 5]);
    expect(y[0]).toEqual([10, 11, 12, 13, null]);
    expect(y[1]).toEqual([null, 0.1, null, 0.3, 0.5]);
  });

  it('handles a long run (100k train points, sparse validation) in one pass', () => {
    const n = 100_000;
    const steps = Array.from({ length: n }, (_, i) => i);
    const values = steps.map((i) => Math.exp(-i / n));
    const vSteps = steps.filter((i) => i % 1000 === 999);
    const { x, y } = alignSeries([steps, steps, vSteps], [values, ema(values, 0.6), vSteps.map(() => 1)]);
    expect(x.length).toBe(n);
    expect(y[2]!.filter((v) => v !== null).length).toBe(100);
  });
});

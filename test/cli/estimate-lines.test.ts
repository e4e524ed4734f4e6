import { describe, expect, it } from 'vitest';
import { estimateLines } from '../../src/cli/commands/train';
import type { TrainEstimate } from '../../src/shared/contract';

const reference: TrainEstimate = {
  backend: 'wasm',
  threads: 2,
  secondsPerStep: 260,
  warmupSeconds: 40,
  timedSteps: 3,
  batchSize: 256,
  timedBatches: [
    { batch: 1, steps: 1, secondsPerStep: 5 },
    { batch: 2, steps: 2, secondsPerStep: 9 },
  ],
  trainSlices: 8000,
  imageSize: [160, 224],
  adversarial: true,
  stepsPerEpoch: 32,
  secondsPerEpoch: 8320,
  epochs: 100,
  totalSteps: 3200,
  totalSeconds: 832_000,
  limitedBy: 'epochs',
  epochsCovered: 100,
  stepsInBudget: null,
  warning: 'about 9.6 days for the whole run on this machine: use the cluster export or the desktop preset, or set a budget',
};

describe('train --estimate output', () => {
  it('says what was timed, the projection per epoch and run, and ends with the warning', () => {
    const lines = estimateLines('autoencoder', 'reference', reference);
    expect(lines[0]).toBe('autoencoder (reference) on wasm (2 threads), batch 256 at 160x224, discriminator included');
    expect(lines[1]).toBe('  260 s per step (extrapolated from 3 timed steps: 5.00 s at batch 1, 9.00 s at batch 2; warm-up step 40 s)');
    expect(lines[2]).toBe('  32 steps per epoch (8000 training slices): about 2.3 h per epoch');
    expect(lines[3]).toMatch(/^ {2}run: 3200 steps \(100 of 100 epochs, ended by the epoch cap\): about 9.6 days/);
    expect(lines.at(-1)).toBe(`warning: ${reference.warning}`);
  });

  it('says how many steps a time budget buys', () => {
    const lines = estimateLines('ldm', 'desktop', { ...reference, timedBatches: [{ batch: 8, steps: 3, secondsPerStep: 2 }], stepsInBudget: 450, warning: null, limitedBy: 'budgetTime' });
    expect(lines[1]).toContain('mean of 3 timed steps');
    expect(lines).toContain('  the time budget buys 450 steps at this speed');
    expect(lines.some((l) => l.startsWith('warning'))).toBe(false);
  });
});

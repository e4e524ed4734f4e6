import { describe, expect, it } from 'vitest';
import { DAY_SECONDS, describeDuration, projectRun, type ProjectionInput } from '../../src/ml/train/projection';

const base: ProjectionInput = { secondsPerStep: 2, trainSlices: 100, batchSize: 8, maxStepsPerEpoch: 0, epochs: 10, budgetSteps: null, budgetMinutes: null };

describe('projected training time from a measured step', () => {
  it('counts steps per epoch as the training loop does: a last partial batch is a step, the per-epoch cap applies', () => {
    expect(projectRun(base).stepsPerEpoch).toBe(13);
    expect(projectRun({ ...base, trainSlices: 96 }).stepsPerEpoch).toBe(12);
    expect(projectRun({ ...base, maxStepsPerEpoch: 5 }).stepsPerEpoch).toBe(5);
    expect(projectRun({ ...base, maxStepsPerEpoch: 50 }).stepsPerEpoch).toBe(13);
  });

  it('multiplies seconds per step out to the epoch and to the epoch cap', () => {
    const p = projectRun(base);
    expect(p.secondsPerEpoch).toBe(26);
    expect(p.totalSteps).toBe(130);
    expect(p.totalSeconds).toBe(260);
    expect(p.limitedBy).toBe('epochs');
    expect(p.epochsCovered).toBe(10);
    expect(p.stepsInBudget).toBeNull();
  });

  it('ends at a step budget smaller than the epoch cap', () => {
    const p = projectRun({ ...base, budgetSteps: 20 });
    expect(p.totalSteps).toBe(20);
    expect(p.totalSeconds).toBe(40);
    expect(p.limitedBy).toBe('budgetSteps');
    expect(p.epochsCovered).toBeCloseTo(20 / 13);
  });

  it('says how many steps a time budget buys, and ends the run there', () => {
    const p = projectRun({ ...base, budgetMinutes: 1 });
    expect(p.stepsInBudget).toBe(30);
    expect(p.totalSteps).toBe(30);
    expect(p.limitedBy).toBe('budgetTime');
    // A budget longer than the epoch cap needs leaves the cap in charge.
    const long = projectRun({ ...base, budgetMinutes: 60 });
    expect(long.stepsInBudget).toBe(1800);
    expect(long.totalSteps).toBe(130);
    expect(long.limitedBy).toBe('epochs');
  });

  it('warns when one epoch takes more than a day, naming the duration and what to do', () => {
    // 1000 steps per epoch at 260 s: about 3 days per epoch.
    const p = projectRun({ ...base, trainSlices: 8000, secondsPerStep: 260 });
    expect(p.secondsPerEpoch).toBe(260_000);
    expect(p.warning).toBe('about 3 days per epoch on this machine: use the cluster export or the desktop preset');
  });

  it('warns about the epoch even when a time budget ends the run within it', () => {
    const p = projectRun({ ...base, trainSlices: 8000, secondsPerStep: 260, budgetMinutes: 60 });
    expect(p.limitedBy).toBe('budgetTime');
    expect(p.warning).toMatch(/^about 3 days per epoch on this machine: .* \(the budget ends the run after 1% of one epoch\)$/);
  });

  it('warns when the run takes more than a day although each epoch takes less', () => {
    // 13 steps x 2000 s = 7.2 h per epoch, 10 epochs = 3 days.
    const p = projectRun({ ...base, secondsPerStep: 2000 });
    expect(p.secondsPerEpoch).toBeLessThan(DAY_SECONDS);
    expect(p.warning).toBe('about 3 days for the whole run on this machine: use the cluster export or the desktop preset, or set a budget');
  });

  it('does not warn at exactly a day, nor when a budget keeps a long run under a day', () => {
    // 13 steps per epoch: one epoch of exactly a day.
    expect(projectRun({ ...base, epochs: 1, secondsPerStep: DAY_SECONDS / 13 }).warning).toBeNull();
    expect(projectRun({ ...base, secondsPerStep: 2000, budgetMinutes: 600 }).warning).toBeNull();
    expect(projectRun(base).warning).toBeNull();
  });

  it('refuses a step time that is not a positive number and an empty split', () => {
    expect(() => projectRun({ ...base, secondsPerStep: 0 })).toThrow(/seconds per step/);
    expect(() => projectRun({ ...base, secondsPerStep: Number.NaN })).toThrow(/seconds per step/);
    expect(() => projectRun({ ...base, trainSlices: 0 })).toThrow(/no slices/);
  });

  it('describes durations in the unit a reader compares', () => {
    expect(describeDuration(40)).toBe('40 s');
    expect(describeDuration(12 * 60)).toBe('12 min');
    expect(describeDuration(5.2 * 3600)).toBe('5.2 h');
    expect(describeDuration(3 * DAY_SECONDS)).toBe('3 days');
    expect(describeDuration(Number.POSITIVE_INFINITY)).toBe('forever');
  });
});

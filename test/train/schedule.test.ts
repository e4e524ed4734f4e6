import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StateDict } from '../../src/ml/io';
import { checkpointDir, loadCheckpoint, type LoadedCheckpoint } from '../../src/ml/pipeline/checkpoint';
import { defaultLoop, DESKTOP_BUDGET_MINUTES } from '../../src/ml/train/config';
import { annealOnPlateau, FIXED_EPOCHS, lrFactor, parseBudget, plateauStep, projectSteps, scheduleProblems, type ScheduleSettings } from '../../src/ml/train/schedule';
import { runSession, type LoopConfig, type MetricOut, type StageRuntime, type TrainHooks } from '../../src/ml/train/session';
import { runTraining, TRAINING_SUMMARY_FILE } from '../../src/ml/train/run';
import { syntheticData, tinyConfig } from './fixtures';

/**
 * Budgets, plateau stop and the learning-rate schedule. The loop runs over a scripted stage (no
 * networks) so every number is known, and time comes from an injected clock that advances a
 * fixed amount per step: nothing here depends on how fast the machine is.
 */

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'bs-schedule-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const data = syntheticData(4, 6, 16, 4);
let dirCount = 0;
const freshDir = () => join(root, `run-${dirCount++}`);

/** A clock that moves only when told to. */
class FakeClock {
  ms = 1_000_000;
  readonly now = () => this.ms;
}

/** A stage whose steps take `secondsPerStep` on the clock and whose validation losses follow a script. */
class ScriptedStage implements StageRuntime {
  readonly stage = 'autoencoder' as const;
  factors: number[] = [];
  private factor = 1;
  private validations = 0;
  constructor(
    private readonly clock: FakeClock,
    private readonly secondsPerStep = 1,
    private readonly valLosses: number[] = [],
  ) {}
  setLrFactor(f: number): void {
    this.factor = f;
  }
  async trainStep(_indices: number[], _epoch: number, step: number): Promise<Record<string, number>> {
    this.factors.push(this.factor);
    this.clock.ms += this.secondsPerStep * 1000;
    return { loss: 1 / step };
  }
  async validate() {
    const loss = this.valLosses[this.validations] ?? this.valLosses.at(-1) ?? 1;
    this.validations += 1;
    return { loss, metrics: { l1_loss: loss } };
  }
  async figures() {
    return null;
  }
  async checkpointPayload(): Promise<{ model: StateDict; state: StateDict }> {
    const model: StateDict = new Map([['w', { shape: [1], data: Float32Array.of(this.factor) }]]);
    return { model, state: new Map([['validations', { shape: [1], data: Float32Array.of(this.validations) }]]) };
  }
  restore(ckpt: LoadedCheckpoint): void {
    this.validations = ckpt.state.get('validations')!.data[0]!;
  }
  dispose(): void {}
}

function loop(over: Partial<LoopConfig>): LoopConfig {
  return {
    ...FIXED_EPOCHS,
    epochs: 100,
    batchSize: 4,
    seed: 1,
    checkpointEvery: 5,
    valEvery: 1,
    valAtStart: false,
    maxStepsPerEpoch: 4,
    maxValBatches: 1,
    ...over,
  };
}

async function run(stage: ScriptedStage, l: LoopConfig, clock: FakeClock, runDir: string, resume = false, hooks: TrainHooks = {}) {
  return runSession(stage, { runDir, loop: l, data, config: { loop: l }, resume, clock: clock.now }, hooks);
}

const cosine: Pick<ScheduleSettings, 'lrSchedule' | 'warmupFraction' | 'minLrFraction'> = { lrSchedule: 'warmup-cosine', warmupFraction: 0.1, minLrFraction: 0.1 };

describe('learning-rate schedule', () => {
  it('warms up linearly, then falls on a cosine to the floor at the projected end', () => {
    // 100 steps: 10 of warmup, then 90 of cosine.
    expect(lrFactor(cosine, 0, 100)).toBeCloseTo(0.1, 12);
    expect(lrFactor(cosine, 4, 100)).toBeCloseTo(0.5, 12);
    expect(lrFactor(cosine, 9, 100)).toBeCloseTo(1, 12);
    expect(lrFactor(cosine, 10, 100)).toBeCloseTo(1, 12);
    expect(lrFactor(cosine, 55, 100)).toBeCloseTo(0.1 + 0.9 * 0.5, 12);
    expect(lrFactor(cosine, 100, 100)).toBeCloseTo(0.1, 12);
    expect(lrFactor(cosine, 150, 100)).toBeCloseTo(0.1, 12);
    expect(lrFactor({ ...FIXED_EPOCHS }, 37, 100)).toBe(1);
  });

  it('projects the total steps from the cap, the step budget and the time left at the measured rate', () => {
    const s = { budgetMinutes: 10, budgetSteps: null };
    expect(projectSteps(s, { step: 0, capSteps: 5000, elapsedSeconds: 0, secondsPerStep: null })).toBe(5000);
    // 100 steps in 200 s: 400 s left buy 200 more steps.
    expect(projectSteps(s, { step: 100, capSteps: 5000, elapsedSeconds: 200, secondsPerStep: 2 })).toBe(300);
    expect(projectSteps({ budgetMinutes: 10, budgetSteps: 250 }, { step: 100, capSteps: 5000, elapsedSeconds: 200, secondsPerStep: 2 })).toBe(250);
    expect(projectSteps(s, { step: 100, capSteps: 120, elapsedSeconds: 200, secondsPerStep: 2 })).toBe(120);
    expect(projectSteps(s, { step: 100, capSteps: 5000, elapsedSeconds: 900, secondsPerStep: 2 })).toBe(100);
  });

  it('parses budgets as the CLI takes them and refuses the rest', () => {
    expect(parseBudget('20m')).toBe(20);
    expect(parseBudget('90s')).toBe(1.5);
    expect(parseBudget('1.5h')).toBe(90);
    expect(parseBudget('1h30m')).toBe(90);
    expect(parseBudget('45')).toBe(45);
    for (const bad of ['', '0m', 'soon', '20 minutes', '-5m', '5d']) expect(() => parseBudget(bad), bad).toThrow(/--budget .*expected a duration/);
  });

  it('counts validations without a relative improvement and stops at the patience', () => {
    const s = { plateauPatience: 2, plateauMinDelta: 0.05 };
    let st = { plateauBest: null as number | null, sinceImprovement: 0 };
    const stops: boolean[] = [];
    for (const loss of [1.0, 0.9, 0.88, 0.8, 0.79, 0.78]) {
      const r = plateauStep(s, st, loss);
      st = r;
      stops.push(r.stop);
    }
    // 0.88 is not 5% below 0.9; 0.8 is; 0.79 and 0.78 are not 5% below 0.8.
    expect(stops).toEqual([false, false, false, false, false, true]);
    expect(st.plateauBest).toBe(0.8);
  });

  it('validates its settings, naming the key', () => {
    expect(scheduleProblems({ ...FIXED_EPOCHS, lrSchedule: 'linear' as never })[0]).toMatch(/loop\.lrSchedule/);
    expect(scheduleProblems({ ...FIXED_EPOCHS, budgetMinutes: 0 })[0]).toMatch(/loop\.budgetMinutes/);
    expect(scheduleProblems({ ...FIXED_EPOCHS, budgetSteps: 2.5 })[0]).toMatch(/loop\.budgetSteps/);
    expect(scheduleProblems({ ...FIXED_EPOCHS, plateauPatience: -1 })[0]).toMatch(/loop\.plateauPatience/);
    expect(scheduleProblems(FIXED_EPOCHS)).toEqual([]);
  });

  it('the reference preset keeps fixed epochs at a constant rate; the desktop stages share 60 minutes', () => {
    for (const stage of ['autoencoder', 'ldm', 'controlnet'] as const) {
      const ref = defaultLoop(stage, 'reference');
      expect(ref).toMatchObject({ lrSchedule: 'constant', budgetMinutes: null, budgetSteps: null, plateauPatience: 0 });
      expect(scheduleProblems({ ...FIXED_EPOCHS, ...defaultLoop(stage, 'desktop') })).toEqual([]);
    }
    expect(DESKTOP_BUDGET_MINUTES.autoencoder + DESKTOP_BUDGET_MINUTES.ldm + DESKTOP_BUDGET_MINUTES.controlnet).toBe(60);
  });
});

describe('the loop stops at the first of budget, plateau and epochs', () => {
  it('a step budget stops mid-epoch, validates and checkpoints there, and says why', async () => {
    const clock = new FakeClock();
    const stage = new ScriptedStage(clock);
    const runDir = freshDir();
    const validations: MetricOut[] = [];
    const r = await run(stage, loop({ budgetSteps: 7 }), clock, runDir, false, { metrics: (p) => validations.push(...p.filter((m) => m.split === 'validation')) });
    expect(r).toMatchObject({ status: 'completed', stopReason: 'budget', step: 7, epoch: 1 });
    // Epoch 1 ended at step 4 (validated), the budget at step 7 (validated again).
    expect(validations.map((m) => m.step)).toEqual([4, 7]);
    expect(loadCheckpoint(checkpointDir(runDir, 'last')!).meta.step).toBe(7);
  });

  it('a time budget stops when the clock says so, and the cosine ends there', async () => {
    const clock = new FakeClock();
    const stage = new ScriptedStage(clock, 2);
    const l = loop({ budgetMinutes: 1, lrSchedule: 'warmup-cosine', warmupFraction: 0.1, minLrFraction: 0.1, epochs: 250 });
    const etas: (number | null)[] = [];
    const r = await run(stage, l, clock, freshDir(), false, { progress: (p) => p.phase === 'training' && etas.push(p.etaSeconds) });
    // 2 s a step: 60 s buy 30 steps; the cap (250 epochs of 4 steps) is far away.
    // Even before the first projection the ETA is bounded by the time left, not the cap's steps.
    expect(etas[0]).toBe(58);
    expect(r).toMatchObject({ status: 'completed', stopReason: 'budget', step: 30 });
    expect(r.schedule.projectedSteps).toBe(30);
    expect(r.schedule.elapsedSeconds).toBe(60);
    // Before the first projection the schedule assumed the cap (warmup 100 steps); from step 5 on, 30.
    expect(stage.factors.slice(0, 5)).toEqual([1, 2, 3, 4, 5].map((n) => n / 100));
    expect(stage.factors[29]).toBeCloseTo(lrFactor(cosine, 29, 30), 12);
    expect(stage.factors[29]).toBeLessThan(0.12);
  });

  it('a validation plateau stops the run before its budget', async () => {
    const clock = new FakeClock();
    const stage = new ScriptedStage(clock, 1, [1.0, 0.8, 0.79, 0.795, 0.9]);
    const r = await run(stage, loop({ budgetSteps: 1000, plateauPatience: 3, plateauMinDelta: 0.02 }), clock, freshDir());
    // One validation per 4-step epoch: the 5th is the third without a 2% gain over 0.8.
    expect(r).toMatchObject({ status: 'completed', stopReason: 'plateau', step: 20, epoch: 5 });
  });

  it('under a decaying rate a plateau anneals the rate to its floor first, then stops', async () => {
    const clock = new FakeClock();
    const stage = new ScriptedStage(clock, 1, [1.0, 0.8, 0.79, 0.795, 0.9]);
    const runDir = freshDir();
    const validations: number[] = [];
    const l = loop({ budgetSteps: 1000, plateauPatience: 3, plateauMinDelta: 0.02, lrSchedule: 'warmup-cosine', warmupFraction: 0, minLrFraction: 0.1 });
    const r = await run(stage, l, clock, runDir, false, { metrics: (p) => validations.push(...p.filter((m) => m.split === 'validation').map((m) => m.step)) });
    // The plateau came at step 20 with the cosine still near its peak; a third of 20 steps more
    // (7) take the rate down on a half cosine, validated once more where they end.
    expect(r).toMatchObject({ status: 'completed', stopReason: 'plateau', step: 27 });
    // Projected end before the plateau: the epoch cap (100 epochs of 4 steps), below the step budget.
    expect(r.schedule.anneal).toEqual({ step: 20, steps: 7, factor: lrFactor(l as ScheduleSettings, 20, 400) });
    expect(r.schedule.projectedSteps).toBe(27);
    expect(validations).toEqual([4, 8, 12, 16, 20, 24, 27]);
    const tail = stage.factors.slice(20);
    expect(tail[0]).toBeCloseTo(r.schedule.anneal!.factor, 12);
    for (let i = 1; i < tail.length; i++) expect(tail[i]!).toBeLessThan(tail[i - 1]!);
    expect(tail.at(-1)!).toBeLessThan(0.15);
    expect(loadCheckpoint(checkpointDir(runDir, 'last')!).meta.step).toBe(27);
  });

  it('a plateau stops at once under a constant rate or with the rate near its floor', () => {
    const c = { warmupFraction: 0, minLrFraction: 0.1 };
    expect(annealOnPlateau({ ...c, lrSchedule: 'constant' }, 20, 1000)).toBeNull();
    expect(annealOnPlateau({ ...c, lrSchedule: 'warmup-cosine' }, 990, 1000)).toBeNull();
    // Never past the projected end (the budget still bounds the run).
    expect(annealOnPlateau({ ...c, lrSchedule: 'warmup-cosine' }, 270, 350)).toMatchObject({ step: 270, steps: 80 });
    expect(annealOnPlateau({ ...c, lrSchedule: 'warmup-cosine' }, 300, 1000)).toMatchObject({ step: 300, steps: 100 });
  });

  it('without budget or plateau the epoch cap ends the run', async () => {
    const clock = new FakeClock();
    const r = await run(new ScriptedStage(clock), loop({ epochs: 2 }), clock, freshDir());
    expect(r).toMatchObject({ status: 'completed', stopReason: 'epochs', step: 8 });
    expect(r.schedule.lastLrFactor).toBe(1);
  });
});

describe('resume continues the schedule', () => {
  const l = loop({ budgetMinutes: 1, lrSchedule: 'warmup-cosine', warmupFraction: 0.1, minLrFraction: 0.1, epochs: 250, checkpointEvery: 1 });

  it('same learning rates, same stop, and the time used before the interruption counts', async () => {
    const clock = new FakeClock();
    const straight = new ScriptedStage(clock, 2);
    await run(straight, l, clock, freshDir());

    const runDir = freshDir();
    const first = new ScriptedStage(clock, 2);
    const stopped = await run(first, l, clock, runDir, false, { shouldStop: () => first.factors.length >= 12 });
    expect(stopped).toMatchObject({ status: 'cancelled', stopReason: null, step: 12 });
    const meta = loadCheckpoint(checkpointDir(runDir, 'last')!).meta;
    expect(meta.schedule).toMatchObject({ elapsedSeconds: 24, projectedSteps: 30 });

    // Hours later (the clock jumped), in a new process: the budget left is 36 s, not 60.
    clock.ms += 3_600_000;
    const second = new ScriptedStage(clock, 2);
    const resumed = await run(second, l, clock, runDir, true);
    expect(resumed).toMatchObject({ status: 'completed', stopReason: 'budget', step: 30 });
    expect(resumed.schedule.elapsedSeconds).toBe(60);
    expect([...first.factors, ...second.factors]).toEqual(straight.factors);
  });
});

describe('resume continues the closing anneal', () => {
  it('a run interrupted mid-anneal ends where and as the straight run did', async () => {
    const vals = [1.0, 0.8, 0.79, 0.795, 0.9];
    const l = loop({ budgetSteps: 1000, plateauPatience: 3, plateauMinDelta: 0.02, lrSchedule: 'warmup-cosine', warmupFraction: 0, minLrFraction: 0.1, checkpointEvery: 1 });
    const clock = new FakeClock();
    const straight = new ScriptedStage(clock, 1, vals);
    const a = await run(straight, l, clock, freshDir());

    const runDir = freshDir();
    const first = new ScriptedStage(clock, 1, vals);
    await run(first, l, clock, runDir, false, { shouldStop: () => first.factors.length >= 23 });
    expect(loadCheckpoint(checkpointDir(runDir, 'last')!).meta.schedule?.anneal).toMatchObject({ step: 20, steps: 7 });
    const second = new ScriptedStage(clock, 1, vals);
    const b = await run(second, l, clock, runDir, true);
    expect(b).toMatchObject({ status: 'completed', stopReason: 'plateau', step: a.step });
    expect([...first.factors, ...second.factors]).toEqual(straight.factors);
  });
});

describe('a real stage under a step budget', () => {
  it('stops at the budget and leaves the stop reason and schedule in the run folder', async () => {
    const runDir = freshDir();
    const config = tinyConfig('autoencoder', { epochs: 50, maxStepsPerEpoch: 2, valEvery: 5, budgetSteps: 3, budgetMinutes: null });
    const { result } = await runTraining({ runId: 1, runDir, datasetDir: '', config, parents: {}, resume: false, backend: 'wasm' }, {}, syntheticData(20, 28, 8, 4));
    expect(result).toMatchObject({ status: 'completed', stopReason: 'budget', step: 3 });
    const summary = JSON.parse(readFileSync(join(runDir, TRAINING_SUMMARY_FILE), 'utf8'));
    expect(summary).toMatchObject({ stopReason: 'budget', step: 3, schedule: { projectedSteps: 3, settings: { lrSchedule: 'warmup-cosine', budgetSteps: 3 } } });
    // Validated at the budget although the epoch had not reached valEvery.
    expect(summary.lastValLoss).toBeGreaterThan(0);
    // How the run was computed (results do not depend on it, its speed does).
    expect(summary).toMatchObject({ backend: 'wasm', wasmThreads: expect.any(Number) });
  }, 300_000);
});

import type { Anneal, ScheduleState } from '../pipeline/checkpoint';

/**
 * When a stage stops and how its learning rate moves on the way there.
 *
 * A stage trains until the first of: its epoch cap, a step budget, a wall-time budget, or a
 * validation plateau. The learning rate follows a schedule over the *projected* number of steps:
 * the smallest of the epoch cap, the step budget and (once a step time has been measured) the
 * steps the remaining time buys at the measured rate. Re-projecting as the rate is measured lets
 * a cosine decay end near the budget whatever the machine's speed. Everything the loop needs to
 * continue the same schedule after a resume is in `ScheduleState`, which travels in checkpoints.
 */

export type LrScheduleKind = 'constant' | 'warmup-cosine';
export const LR_SCHEDULES: readonly LrScheduleKind[] = ['constant', 'warmup-cosine'];
export type StopReason = 'budget' | 'plateau' | 'epochs';

export interface ScheduleSettings {
  lrSchedule: LrScheduleKind;
  /** Warmup length as a fraction of the projected steps (warmup-cosine only). */
  warmupFraction: number;
  /** The learning rate at the end of the cosine, as a fraction of the configured one. */
  minLrFraction: number;
  /** Wall-time budget in minutes (validation and checkpoints included); null: none. */
  budgetMinutes: number | null;
  /** Budget in optimiser steps; null: none. Reproducible, unlike a time budget. */
  budgetSteps: number | null;
  /** Stop after this many validations in a row without a relative improvement of plateauMinDelta; 0: never. */
  plateauPatience: number;
  plateauMinDelta: number;
}

/** Settings that reproduce the loop as it was before budgets: fixed epochs, constant learning rate. */
export const FIXED_EPOCHS: ScheduleSettings = {
  lrSchedule: 'constant',
  warmupFraction: 0,
  minLrFraction: 1,
  budgetMinutes: null,
  budgetSteps: null,
  plateauPatience: 0,
  plateauMinDelta: 0,
};

// The resumable state's types live with the checkpoint format that stores them (the loop imports
// the checkpoint module, not the other way round).
export type { Anneal, ScheduleState };

/** The anneal lasts this fraction of the steps trained when the plateau came. */
export const ANNEAL_FRACTION = 1 / 3;

/** Reads settings from a loop config, filling what older configs lack with FIXED_EPOCHS's values. */
export function scheduleSettings(loop: Partial<ScheduleSettings>): ScheduleSettings {
  const s = { ...FIXED_EPOCHS };
  for (const key of Object.keys(FIXED_EPOCHS) as (keyof ScheduleSettings)[]) {
    if (loop[key] !== undefined) (s as Record<string, unknown>)[key] = loop[key];
  }
  return s;
}

/** Problems with the settings, each naming its config key (empty when valid). */
export function scheduleProblems(s: ScheduleSettings, prefix = 'loop'): string[] {
  const out: string[] = [];
  if (!LR_SCHEDULES.includes(s.lrSchedule)) {
    out.push(`${prefix}.lrSchedule must be "constant" or "warmup-cosine", got ${JSON.stringify(s.lrSchedule)}`);
  }
  if (!(s.warmupFraction >= 0 && s.warmupFraction < 1)) out.push(`${prefix}.warmupFraction must be in [0, 1), got ${s.warmupFraction}`);
  if (!(s.minLrFraction >= 0 && s.minLrFraction <= 1)) out.push(`${prefix}.minLrFraction must be in [0, 1], got ${s.minLrFraction}`);
  if (s.budgetMinutes !== null && !(typeof s.budgetMinutes === 'number' && s.budgetMinutes > 0)) {
    out.push(`${prefix}.budgetMinutes must be a positive number of minutes or null, got ${JSON.stringify(s.budgetMinutes)}`);
  }
  if (s.budgetSteps !== null && !(Number.isInteger(s.budgetSteps) && s.budgetSteps > 0)) {
    out.push(`${prefix}.budgetSteps must be a positive integer or null, got ${JSON.stringify(s.budgetSteps)}`);
  }
  if (!(Number.isInteger(s.plateauPatience) && s.plateauPatience >= 0)) out.push(`${prefix}.plateauPatience must be an integer >= 0, got ${s.plateauPatience}`);
  if (!(s.plateauMinDelta >= 0 && s.plateauMinDelta < 1)) out.push(`${prefix}.plateauMinDelta must be in [0, 1), got ${s.plateauMinDelta}`);
  return out;
}

/**
 * The learning-rate factor (times the configured rate) for the optimiser step that follows
 * `step` completed steps, out of `total` projected. Warmup rises linearly to 1 over the first
 * warmupFraction of the steps; the cosine then falls to minLrFraction at `total` and stays there.
 */
export function lrFactor(s: Pick<ScheduleSettings, 'lrSchedule' | 'warmupFraction' | 'minLrFraction'>, step: number, total: number): number {
  if (s.lrSchedule === 'constant') return 1;
  const warmup = warmupSteps(s, total);
  if (step < warmup) return (step + 1) / warmup;
  const span = Math.max(1, total - warmup);
  return cosineFall(1, s.minLrFraction, (step - warmup) / span);
}

/** A half cosine from `from` (p = 0) down to `to` (p >= 1): the shape of every decay here. */
function cosineFall(from: number, to: number, p: number): number {
  const q = Math.min(1, Math.max(0, p));
  return to + (from - to) * 0.5 * (1 + Math.cos(Math.PI * q));
}

export function warmupSteps(s: Pick<ScheduleSettings, 'lrSchedule' | 'warmupFraction'>, total: number): number {
  return s.lrSchedule === 'constant' ? 0 : Math.round(s.warmupFraction * Math.max(1, total));
}

/** Steps measured before the first time-based projection (the first steps carry start-up costs). */
export const MEASURE_STEPS = 5;

/**
 * What a plateau at `step` (after `step` optimiser steps) leads to: the closing anneal, or null to
 * stop now. Stops now under a constant rate (the published recipe's behaviour), when the rate is
 * already within a tenth of its range of the floor, or when the projection leaves no steps.
 */
export function annealOnPlateau(
  s: Pick<ScheduleSettings, 'lrSchedule' | 'warmupFraction' | 'minLrFraction'>,
  step: number,
  projectedSteps: number,
): Anneal | null {
  if (s.lrSchedule === 'constant') return null;
  const factor = lrFactor(s, step, projectedSteps);
  if (factor <= s.minLrFraction + 0.1 * (1 - s.minLrFraction)) return null;
  const steps = Math.min(projectedSteps - step, Math.max(1, Math.round(step * ANNEAL_FRACTION)));
  return steps >= 1 ? { step, steps, factor } : null;
}

/** The learning-rate factor for the step after `step`: the closing anneal once begun, else lrFactor. */
export function scheduledFactor(
  s: Pick<ScheduleSettings, 'lrSchedule' | 'warmupFraction' | 'minLrFraction'>,
  state: Pick<ScheduleState, 'projectedSteps' | 'anneal'>,
  step: number,
): number {
  const a = state.anneal;
  return a ? cosineFall(a.factor, s.minLrFraction, (step - a.step) / a.steps) : lrFactor(s, step, state.projectedSteps);
}

/** Whether a begun anneal has run its steps (checked before each step). */
export function annealDone(state: Pick<ScheduleState, 'anneal'>, step: number): boolean {
  return !!state.anneal && step >= state.anneal.step + state.anneal.steps;
}

/**
 * Projected total steps: the epoch cap, the step budget and, with a time budget and a measured
 * rate (secondsPerStep over this session), the steps the remaining time buys, whichever is least;
 * never below the steps already done.
 */
export function projectSteps(
  s: Pick<ScheduleSettings, 'budgetMinutes' | 'budgetSteps'>,
  o: { step: number; capSteps: number; elapsedSeconds: number; secondsPerStep: number | null },
): number {
  let total = o.capSteps;
  if (s.budgetSteps !== null) total = Math.min(total, s.budgetSteps);
  if (s.budgetMinutes !== null && o.secondsPerStep !== null && o.secondsPerStep > 0) {
    const remaining = Math.max(0, s.budgetMinutes * 60 - o.elapsedSeconds);
    total = Math.min(total, o.step + Math.floor(remaining / o.secondsPerStep));
  }
  return Math.max(o.step, total);
}

/** Whether the step or time budget is used up (checked before each step). */
export function budgetSpent(s: Pick<ScheduleSettings, 'budgetMinutes' | 'budgetSteps'>, step: number, elapsedSeconds: number): boolean {
  if (s.budgetSteps !== null && step >= s.budgetSteps) return true;
  return s.budgetMinutes !== null && elapsedSeconds >= s.budgetMinutes * 60;
}

/**
 * The plateau rule after a validation: an improvement is a loss below best * (1 - minDelta).
 * Returns the new state and whether the run should stop.
 */
export function plateauStep(
  s: Pick<ScheduleSettings, 'plateauPatience' | 'plateauMinDelta'>,
  state: Pick<ScheduleState, 'plateauBest' | 'sinceImprovement'>,
  loss: number,
): { plateauBest: number | null; sinceImprovement: number; stop: boolean } {
  if (!Number.isFinite(loss)) return { ...state, stop: false };
  const improved = state.plateauBest === null || loss < state.plateauBest - Math.abs(state.plateauBest) * s.plateauMinDelta;
  const plateauBest = improved ? loss : state.plateauBest;
  const sinceImprovement = improved ? 0 : state.sinceImprovement + 1;
  return { plateauBest, sinceImprovement, stop: s.plateauPatience > 0 && sinceImprovement >= s.plateauPatience };
}

/** Parses a budget as the CLI takes it: "20m", "90s", "1.5h", "1h30m"; a bare number is minutes. */
export function parseBudget(text: string): number {
  const t = text.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(t)) {
    const m = Number(t);
    if (m > 0) return m;
  }
  const re = /(\d+(?:\.\d+)?)\s*(h|m|min|s)/gy;
  let minutes = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t)) !== null) {
    const v = Number(m[1]);
    minutes += m[2] === 'h' ? v * 60 : m[2] === 's' ? v / 60 : v;
    matched = re.lastIndex;
  }
  if (matched !== t.length || t.length === 0 || !(minutes > 0)) {
    throw new Error(`--budget ${text}: expected a duration such as 20m, 90s, 1.5h or 1h30m`);
  }
  return minutes;
}

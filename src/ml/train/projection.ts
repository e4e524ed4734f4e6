import { batchCount } from './data';
import { projectSteps, type ScheduleSettings } from './schedule';

/**
 * What a measured optimiser step means for a whole run: steps per epoch (as the training loop
 * counts them), time per epoch, and the steps and time the run would take under its epoch cap and
 * budgets, with a warning when an epoch or the run would take more than a day. Pure arithmetic:
 * the caller measures the step (estimate.ts).
 *
 * Validation passes and checkpoints are not included: they run once every few epochs and cost
 * little next to the steps of a large epoch.
 */

export const DAY_SECONDS = 86_400;

export interface ProjectionInput {
  secondsPerStep: number;
  /** Slices in the dataset's train split. */
  trainSlices: number;
  batchSize: number;
  /** The loop's cap on batches per epoch (0 = all). */
  maxStepsPerEpoch: number;
  /** The epoch cap. */
  epochs: number;
  budgetSteps: ScheduleSettings['budgetSteps'];
  budgetMinutes: ScheduleSettings['budgetMinutes'];
}

export interface Projection {
  stepsPerEpoch: number;
  secondsPerEpoch: number;
  /** Optimiser steps the run would take, and how long they would take. */
  totalSteps: number;
  totalSeconds: number;
  /** Which limit ends the run first (a validation plateau may end it sooner). */
  limitedBy: 'epochs' | 'budgetSteps' | 'budgetTime';
  /** Epochs the run would cover (fractional when a budget ends it mid-epoch). */
  epochsCovered: number;
  /** With a time budget: how many steps it buys at the measured speed. */
  stepsInBudget: number | null;
  /** Set when one epoch or the whole run would take more than a day. */
  warning: string | null;
}

/** "40 s", "12 min", "5.2 h", "3.1 days": the unit a reader compares at a glance. */
export function describeDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'forever';
  if (seconds < 90) return `${Math.max(0, Math.round(seconds))} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 36 * 3600) return `${Number((seconds / 3600).toFixed(1))} h`;
  return `${Number((seconds / DAY_SECONDS).toFixed(1))} days`;
}

const ADVICE = 'use the cluster export or the desktop preset';

export function projectRun(input: ProjectionInput): Projection {
  const { secondsPerStep } = input;
  if (!(secondsPerStep > 0) || !Number.isFinite(secondsPerStep)) throw new Error(`seconds per step must be a positive number, got ${secondsPerStep}`);
  if (!(input.trainSlices > 0)) throw new Error('the training split has no slices');
  const fullBatches = batchCount(input.trainSlices, input.batchSize);
  const stepsPerEpoch = input.maxStepsPerEpoch > 0 ? Math.min(input.maxStepsPerEpoch, fullBatches) : fullBatches;
  const capSteps = stepsPerEpoch * input.epochs;
  const budgets = { budgetSteps: input.budgetSteps, budgetMinutes: input.budgetMinutes };
  // The loop's own projection, made as it would be after its first measured steps.
  const totalSteps = projectSteps(budgets, { step: 0, capSteps, elapsedSeconds: 0, secondsPerStep });
  const stepsInBudget = input.budgetMinutes !== null ? Math.floor((input.budgetMinutes * 60) / secondsPerStep) : null;
  let limitedBy: Projection['limitedBy'] = 'epochs';
  if (totalSteps < capSteps) limitedBy = input.budgetSteps !== null && totalSteps === input.budgetSteps ? 'budgetSteps' : 'budgetTime';
  const secondsPerEpoch = stepsPerEpoch * secondsPerStep;
  const totalSeconds = totalSteps * secondsPerStep;
  let warning: string | null = null;
  if (secondsPerEpoch > DAY_SECONDS) {
    warning = `about ${describeDuration(secondsPerEpoch)} per epoch on this machine: ${ADVICE}`;
    if (limitedBy === 'budgetTime') warning += ` (the budget ends the run after ${Math.round((totalSteps / stepsPerEpoch) * 100)}% of one epoch)`;
  } else if (totalSeconds > DAY_SECONDS) {
    warning = `about ${describeDuration(totalSeconds)} for the whole run on this machine: ${ADVICE}, or set a budget`;
  }
  return {
    stepsPerEpoch,
    secondsPerEpoch,
    totalSteps,
    totalSeconds,
    limitedBy,
    epochsCovered: totalSteps / stepsPerEpoch,
    stepsInBudget,
    warning,
  };
}

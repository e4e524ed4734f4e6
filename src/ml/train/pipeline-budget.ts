import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DESKTOP_BUDGET_MINUTES } from './config';
import type { TrainStage } from './session';

/**
 * The desktop pipeline's wall-time budget as a whole: 60 minutes on 2 cores for autoencoder, LDM
 * and ControlNet together. Each stage has its own default (DESKTOP_BUDGET_MINUTES), but the
 * autoencoder usually stops early on its validation plateau (on open MS after 13 of its 20
 * minutes), and those minutes would otherwise be lost. So a later stage's default budget is
 * what its parents left of the 60 minutes: the LDM its share (15 of the 40 minutes after a full
 * autoencoder), the ControlNet all the rest; never less than the stage's own default, so a long
 * parent never shortens its child.
 */
export const DESKTOP_PIPELINE_MINUTES = 60;

/**
 * Kept back from a child's share so the chain, run as three commands, ends within the pipeline's
 * minutes: a stage ends its last step, validation and checkpoint 3-6 s past its budget, and each
 * stage's process takes about 2 s to start before its clock runs (open MS: LDM 17m29s of 17m24s
 * in 17m31s of wall time, ControlNet 28m57s of 28m54s in 28m59s; with 6 s kept back the chain took
 * 60m02s).
 */
export const FINISH_ALLOWANCE_MINUTES = 0.25;

/** Written by every training session beside the checkpoints (see run.ts). */
export const TRAINING_SUMMARY_FILE = 'training-summary.json';

/** Minutes of budgeted wall time a finished run trained for (over all its sessions), or null if unknown. */
export function trainedMinutes(runDir: string): number | null {
  try {
    const summary = JSON.parse(readFileSync(join(runDir, TRAINING_SUMMARY_FILE), 'utf8')) as { schedule?: { elapsedSeconds?: unknown } };
    const s = summary.schedule?.elapsedSeconds;
    return typeof s === 'number' && Number.isFinite(s) && s >= 0 ? s / 60 : null;
  } catch {
    return null; // a run imported from a cluster, or one that never finished a session
  }
}

/** Minutes the chain of parent runs trained for; null when any of them is unknown. */
export function parentChainMinutes(runDirs: Array<string | undefined>): number | null {
  let total = 0;
  for (const dir of runDirs) {
    const m = dir ? trainedMinutes(dir) : null;
    if (m === null) return null;
    total += m;
  }
  return total;
}

/**
 * A desktop stage's default budget given how long its parents trained (null: unknown, so the
 * stage's own default). Rounded to a tenth of a minute, as a person would type it.
 */
export function pipelineBudgetMinutes(stage: TrainStage, parentsMinutes: number | null): number {
  const own = DESKTOP_BUDGET_MINUTES[stage];
  if (stage === 'autoencoder' || parentsMinutes === null) return own;
  const left = DESKTOP_PIPELINE_MINUTES - parentsMinutes - FINISH_ALLOWANCE_MINUTES;
  const share = stage === 'ldm' ? (left * own) / (own + DESKTOP_BUDGET_MINUTES.controlnet) : left;
  return Math.max(own, Math.floor(share * 10) / 10);
}

/** The parent a child stage is built on, as far as its budget needs it. */
export interface BudgetParent {
  runId: number;
  runDir: string;
  parentDirs: { autoencoder?: string };
}

/**
 * A desktop LDM's or ControlNet's default budget from its parent chain, and a line saying where
 * it comes from (null when the stage's own default applies: a parent of unknown length, or parents
 * that left less than that). Null for requests it does not apply to: an autoencoder, another
 * preset, or no parent yet.
 */
export function desktopChildBudget(req: { preset: string; stage: TrainStage; parent?: BudgetParent }): { minutes: number; note: string | null } | null {
  const { stage, parent } = req;
  if (req.preset !== 'desktop' || !parent || stage === 'autoencoder') return null;
  const chain = stage === 'ldm' ? [parent.runDir] : [parent.parentDirs.autoencoder, parent.runDir];
  const used = parentChainMinutes(chain);
  const minutes = pipelineBudgetMinutes(stage, used);
  if (used === null || minutes === DESKTOP_BUDGET_MINUTES[stage]) return { minutes, note: null };
  // What the share was taken of (floored like the budget), so the note's numbers multiply out to it.
  const left = (Math.floor((DESKTOP_PIPELINE_MINUTES - used - FINISH_ALLOWANCE_MINUTES) * 10) / 10).toFixed(1);
  const allowance = `${Math.round(FINISH_ALLOWANCE_MINUTES * 60)} s`;
  const { ldm, controlnet } = DESKTOP_BUDGET_MINUTES;
  const note =
    stage === 'ldm'
      ? `${minutes} min: the LDM's share (${ldm} of ${ldm + controlnet}) of the ${left} min its autoencoder (run ${parent.runId}, ${used.toFixed(1)} min) left of the ${DESKTOP_PIPELINE_MINUTES}-minute desktop pipeline (less ${allowance} to finish)`
      : `${minutes} min: what its LDM (run ${parent.runId}) and autoencoder left of the ${DESKTOP_PIPELINE_MINUTES}-minute desktop pipeline (they trained ${used.toFixed(1)} min; less ${allowance} to finish)`;
  return { minutes, note };
}

/**
 * `brainsynth train`, `brainsynth resume RUN`: run a training job in this process (in a worker
 * thread) with a terminal progress bar and a final summary line. Exit code 0 when the run
 * completes, 1 when it fails, 2 when it is cancelled (Ctrl-C once requests a clean stop after the
 * current step, with a checkpoint; twice exits at once and leaves the run resumable).
 * `brainsynth train ... --estimate` times a few steps instead and prints the projected time.
 */
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import type { EventPayload, TrainEstimate } from '../../shared/contract';
import type { Services } from '../../backend';
import type { JobOutcome } from '../../backend/training/training-jobs';
import { TRAIN_PRESETS, TRAIN_STAGES, type TrainPreset } from '../../ml/train/config';
import { parseBudget } from '../../ml/train/schedule';
import { describeDuration } from '../../ml/train/projection';
import type { TrainStage } from '../../ml/train/session';
import { withServices } from '../services';

export function parsePositiveInt(what: string) {
  return (text: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`${what} must be a positive integer, got '${text}'`);
    return n;
  };
}

function parseInteger(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n)) throw new Error(`--seed must be an integer, got '${text}'`);
  return n;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function formatSeconds(s: number | null | undefined): string {
  if (s === null || s === undefined || !Number.isFinite(s)) return '--';
  const sec = Math.round(s);
  const h = Math.floor(sec / 3600);
  const m = Math.floor((sec % 3600) / 60);
  const r = sec % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

function formatLosses(losses: Record<string, number>): string {
  const keys = ['loss', 'l1_loss', 'd_loss'].filter((k) => k in losses);
  return keys.map((k) => `${k} ${losses[k]!.toPrecision(4)}`).join(' ');
}

/** Progress bar on a TTY; one line per epoch otherwise (logs, CI). */
function progressView(runId: number) {
  const tty = Boolean(process.stderr.isTTY);
  let bar: cliProgress.SingleBar | null = null;
  let lastEpoch = -1;
  return {
    update(p: EventPayload<'job.progress'>): void {
      if (p.runId !== runId || !p.training) return;
      const t = p.training;
      const payload = {
        epoch: `${Math.min(t.epoch + 1, t.epochs)}/${t.epochs}`,
        losses: formatLosses(t.losses),
        rate: t.stepsPerSecond ? t.stepsPerSecond.toFixed(2) : '--',
        eta: formatSeconds(p.etaSeconds),
        phase: p.phase === 'training' ? '' : ` [${p.phase}]`,
      };
      if (tty) {
        if (!bar) {
          bar = new cliProgress.SingleBar(
            {
              format: `run ${runId} {bar} {value}/{total} steps | epoch {epoch} | {losses} | {rate} it/s | ETA {eta}{phase}`,
              stream: process.stderr,
              hideCursor: true,
              // The summary line replaces the bar: a kept bar shows the last update, not the end.
              clearOnComplete: true,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(t.totalSteps, t.step, payload);
        }
        bar.setTotal(t.totalSteps);
        bar.update(t.step, payload);
      } else if (t.epoch !== lastEpoch && p.phase === 'training') {
        lastEpoch = t.epoch;
        process.stderr.write(`run ${runId}: epoch ${payload.epoch}, step ${t.step}/${t.totalSteps}, ${payload.losses}, ${payload.rate} it/s, ETA ${payload.eta}\n`);
      }
    },
    stop(): void {
      (bar as cliProgress.SingleBar | null)?.stop();
    },
  };
}

function summaryLine(outcome: JobOutcome, services: Services): string {
  const { run, summary } = outcome;
  const s = (summary ?? {}) as {
    step?: number;
    wallSeconds?: number;
    backend?: string;
    lastLosses?: Record<string, number>;
    lastValLoss?: number | null;
    bestValLoss?: number | null;
    stopReason?: string | null;
    schedule?: { elapsedSeconds?: number; settings?: { budgetMinutes?: number | null }; anneal?: { step: number; steps: number } | null };
  };
  const last = services.checkpoints.list(run.id).filter((c) => c.kind === 'last').at(-1);
  const parts = [`run ${run.id} ${run.stage} ${run.status}`];
  if (s.step !== undefined) parts.push(`${s.step} steps in ${formatSeconds(s.wallSeconds)} on ${s.backend ?? run.backend}`);
  if (s.lastLosses && Object.keys(s.lastLosses).length) parts.push(formatLosses(s.lastLosses));
  if (s.lastValLoss !== undefined && s.lastValLoss !== null) {
    parts.push(`val ${s.lastValLoss.toPrecision(4)}${s.bestValLoss !== null && s.bestValLoss !== undefined ? ` (best ${s.bestValLoss.toPrecision(4)})` : ''}`);
  }
  if (s.stopReason) {
    const budget = s.schedule?.settings?.budgetMinutes;
    const anneal = s.schedule?.anneal;
    const how = s.stopReason === 'plateau' && anneal ? ` at step ${anneal.step}, then a ${anneal.steps}-step anneal` : '';
    parts.push(`stopped by ${s.stopReason}${how}${budget ? ` (budget ${formatSeconds(budget * 60)}, used ${formatSeconds(s.schedule?.elapsedSeconds)})` : ''}`);
  }
  if (run.error) parts.push(`error: ${run.error}`);
  if (last) parts.push(`checkpoint step ${last.step}: ${last.path}`);
  return parts.join('; ');
}

const LIMITS: Record<TrainEstimate['limitedBy'], string> = { epochs: 'the epoch cap', budgetSteps: 'the step budget', budgetTime: 'the time budget' };

function timing(e: TrainEstimate): string {
  if (e.timedBatches.length < 2) return `mean of ${e.timedSteps} timed steps`;
  const at = e.timedBatches.map((b) => `${b.secondsPerStep.toPrecision(3)} s at batch ${b.batch}`).join(', ');
  return `extrapolated from ${e.timedSteps} timed steps: ${at}`;
}

/** `train --estimate`: the measured step and what it projects, as the Train view shows it. */
export function estimateLines(stage: string, preset: string, e: TrainEstimate): string[] {
  const threads = e.threads === null ? '' : ` (${e.threads} thread${e.threads === 1 ? '' : 's'})`;
  const adv = e.adversarial ? ', discriminator included' : '';
  const lines = [
    `${stage} (${preset}) on ${e.backend}${threads}, batch ${e.batchSize} at ${e.imageSize.join('x')}${adv}`,
    `  ${e.secondsPerStep.toPrecision(3)} s per step (${timing(e)}; warm-up step ${describeDuration(e.warmupSeconds)})`,
    `  ${e.stepsPerEpoch} steps per epoch (${e.trainSlices} training slices): about ${describeDuration(e.secondsPerEpoch)} per epoch`,
    `  run: ${e.totalSteps} steps (${Number(e.epochsCovered.toFixed(2))} of ${e.epochs} epochs, ended by ${LIMITS[e.limitedBy]}): about ${describeDuration(e.totalSeconds)}, validation and checkpoints not included`,
  ];
  if (e.stepsInBudget !== null) lines.push(`  the time budget buys ${e.stepsInBudget} steps at this speed`);
  if (e.warning) lines.push(`warning: ${e.warning}`);
  return lines;
}

/** Waits for a job of this process with a progress view, Ctrl-C handling and a summary line. */
async function follow(services: Services, runId: number, json: boolean): Promise<void> {
  const view = progressView(runId);
  const offProgress = services.events.on('job.progress', (p) => view.update(p));
  // The loop's own notices (resume point, a plateau's anneal) go to stderr beside the progress.
  const offLog = services.events.on('run.log', (l) => l.runId === runId && process.stderr.write(`\nrun ${runId}: ${l.message}\n`));
  const off = () => {
    offProgress();
    offLog();
  };
  let interrupts = 0;
  const onSigint = () => {
    interrupts += 1;
    if (interrupts === 1) {
      process.stderr.write(`\nstopping run ${runId} after the current step (Ctrl-C again to quit now; the run stays resumable)\n`);
      services.training.cancel(runId);
    } else {
      services.close();
      process.exit(130);
    }
  };
  process.on('SIGINT', onSigint);
  let outcome: JobOutcome;
  try {
    outcome = await services.training.waitFor(runId);
  } finally {
    process.off('SIGINT', onSigint);
    off();
    view.stop();
  }
  if (json) process.stdout.write(JSON.stringify({ run: outcome.run, summary: outcome.summary }, null, 2) + '\n');
  else process.stdout.write(summaryLine(outcome, services) + '\n');
  process.exitCode = outcome.run.status === 'completed' ? 0 : outcome.run.status === 'cancelled' ? 2 : 1;
}

export function register(program: Command): void {
  program
    .command('train')
    .description('train one stage (autoencoder, ldm, controlnet) on a prepared dataset; progress bar, then a summary line')
    .addOption(new Option('--stage <stage>', 'which stage').choices([...TRAIN_STAGES]).makeOptionMandatory())
    .requiredOption('--dataset <id>', 'prepared dataset id (see `brainsynth data list`)', parsePositiveInt('--dataset'))
    .addOption(new Option('--preset <preset>', 'network/loop preset').choices([...TRAIN_PRESETS]).default('desktop'))
    .option('--parent <run>', 'parent run: an autoencoder run for ldm, an ldm run for controlnet', parsePositiveInt('--parent'))
    .option('--epochs <n>', 'number of epochs (default: the preset; with a budget, a cap)', parsePositiveInt('--epochs'))
    .option('--budget <time>', 'train until this much wall time (e.g. 20m, 1h30m) or a validation plateau; the learning rate decays to fit (desktop default: autoencoder 20m; an LDM or ControlNet gets what its parents left of a 60-minute pipeline, at least 15m / 25m)', parseBudget)
    .option('--seed <n>', 'random seed (default 42)', parseInteger)
    .option('--backend <name>', 'auto, tensorflow, webgpu, wasm or cpu', 'auto')
    .option('--set <key=value>', 'override a config field (dotted path, JSON value; repeatable)', collect, [] as string[])
    .option('--name <name>', 'run name')
    .option('--estimate', 'time a few real steps of this config, print the projected time per epoch and for the run, and exit (no run is created)')
    .option('--json', 'print the final run and summary as JSON')
    .action(
      async (
        opts: {
          stage: TrainStage;
          dataset: number;
          preset: TrainPreset;
          parent?: number;
          epochs?: number;
          budget?: number;
          seed?: number;
          backend: string;
          set: string[];
          name?: string;
          estimate?: boolean;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        // The budget is a config field like any other, so it is recorded with the run.
        const overrides = opts.budget !== undefined ? [`loop.budgetMinutes=${opts.budget}`, ...opts.set] : opts.set;
        await withServices(cmd, async (s) => {
          if (opts.estimate) {
            const base = { stage: opts.stage, datasetId: opts.dataset, preset: opts.preset, parentRunId: opts.parent, epochs: opts.epochs, seed: opts.seed };
            if (!opts.json) process.stderr.write(`timing ${opts.stage} (${opts.preset}) steps on this machine...\n`);
            const estimate = await s.estimates.estimate({ ...base, backend: opts.backend, overrides });
            process.stdout.write(opts.json ? JSON.stringify(estimate, null, 2) + '\n' : estimateLines(opts.stage, opts.preset, estimate).join('\n') + '\n');
            return;
          }
          const run = await s.training.start({
            stage: opts.stage,
            datasetId: opts.dataset,
            preset: opts.preset,
            parentRunId: opts.parent,
            epochs: opts.epochs,
            seed: opts.seed,
            backend: opts.backend,
            overrides,
            name: opts.name,
          });
          if (!opts.json) {
            process.stderr.write(`run ${run.id}: ${run.name} (artefacts in ${s.home.runDir(run.id)})\n`);
            // Say where a desktop child's default budget came from (its parents' unused minutes).
            if (opts.parent !== undefined && !overrides.some((o) => o.startsWith('loop.budgetMinutes='))) {
              const { desktopChildBudget } = await import('../../ml/train/pipeline-budget');
              const note = desktopChildBudget({ preset: opts.preset, stage: opts.stage, parent: s.training.parentInfo(opts.parent) })?.note;
              if (note) process.stderr.write(`run ${run.id}: budget ${note}\n`);
            }
          }
          await follow(s, run.id, Boolean(opts.json));
        });
      },
    );

  program
    .command('resume')
    .description('continue a failed or cancelled training run from its last checkpoint (same run, same step numbers)')
    .argument('<run>', 'run id', parsePositiveInt('run id'))
    .option('--json', 'print the final run and summary as JSON')
    .action(async (runId: number, opts: { json?: boolean }, cmd: Command) => {
      await withServices(cmd, async (s) => {
        s.training.resume(runId);
        if (!opts.json) process.stderr.write(`run ${runId}: resuming\n`);
        await follow(s, runId, Boolean(opts.json));
      });
    });

  program
    .command('cancel')
    .description('stop a queued or running training run (also one started by another brainsynth process)')
    .argument('<run>', 'run id', parsePositiveInt('run id'))
    .option('--wait <seconds>', 'wait up to this long for the run to stop', parsePositiveInt('--wait'), 120)
    .action(async (runId: number, opts: { wait: number }, cmd: Command) => {
      await withServices(cmd, async (s) => {
        const run = s.training.cancel(runId);
        if (run.status === 'cancelled') {
          process.stdout.write(`run ${runId} cancelled${run.error ? ` (${run.error})` : ''}\n`);
          return;
        }
        process.stderr.write(`run ${runId}: cancellation requested; waiting for its process to stop it after the current step\n`);
        const deadline = Date.now() + opts.wait * 1000;
        for (;;) {
          const now = s.runs.get(runId);
          if (now.status !== 'running' && now.status !== 'queued') {
            process.stdout.write(`run ${runId} ${now.status}${now.error ? ` (${now.error})` : ''}\n`);
            return;
          }
          if (Date.now() > deadline) {
            process.stdout.write(`run ${runId} is still ${now.status}; the request stays set and its process will stop it\n`);
            process.exitCode = 1;
            return;
          }
          await new Promise((r) => setTimeout(r, 250));
          s.training.recoverStale();
        }
      });
    });
}

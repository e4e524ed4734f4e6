/**
 * `brainsynth runs list|show|annotate`: the experiment store from the terminal. `--json` prints
 * exactly the contract's shapes (RunListItem[], {run, metrics, checkpoints, artefacts}, Run).
 */
import { Command, Option } from 'commander';
import { RunStage, RunStatus, type RunListItem } from '../../shared/contract';
import { keyMetrics } from '../../shared/key-metrics';
import { editTags, splitTagList } from '../../shared/run-tags';
import { withServices } from '../services';
import { formatDuration, formatTable, formatTime, formatValue } from '../table';

function parseRunId(text: string): number {
  const id = Number(text);
  if (!Number.isInteger(id) || id <= 0) throw new Error(`run id must be a positive integer, got '${text}'`);
  return id;
}

/**
 * The numbers a reader compares: "train l1_loss=0.031 best val l1_loss=0.029" for training runs,
 * "PSNR=24.1 dB MS-SSIM=0.871" (means over the images) for evaluations.
 */
function keyMetricsText(run: RunListItem): string {
  const flat = run.metrics.map((m) => ({ name: m.name, split: m.split, last: m.last.value, best: m.best.value, mean: m.mean ?? null }));
  return keyMetrics(run.stage, flat)
    .map((k) => `${k.label}=${k.value === null ? '—' : formatValue(k.value)}${k.unit ? ` ${k.unit}` : ''}`)
    .join(' ');
}

function printRunsTable(runs: RunListItem[]): void {
  if (runs.length === 0) {
    process.stdout.write('No runs yet. Runs appear here once training starts (see `brainsynth --help`).\n');
    return;
  }
  process.stdout.write(
    formatTable(
      ['ID', 'STAGE', 'STATUS', 'NAME', 'DATASET', 'CREATED (UTC)', 'DURATION', 'KEY METRICS'],
      runs.map((r) => [r.id, r.stage, r.status, r.name, r.datasetName, formatTime(r.createdAt), formatDuration(r.startedAt, r.finishedAt), keyMetricsText(r) || null]),
    ),
  );
}

export function register(program: Command): void {
  const runs = program.command('runs').description('list and inspect training/evaluation runs in the experiment store');

  runs
    .command('list')
    .description('list runs, newest first')
    .addOption(new Option('--stage <stage>', 'only this stage').choices(RunStage.options))
    .addOption(new Option('--status <status>', 'only this status').choices(RunStatus.options))
    .option('--limit <n>', 'at most this many runs', (v) => parseRunId(v), 1000)
    .option('--json', 'print JSON (the contract RunListItem[])')
    .action(async (opts: { stage?: RunStage; status?: RunStatus; limit: number; json?: boolean }, cmd: Command) => {
      await withServices(cmd, (s) => {
        const { runs: list } = s.runs.list({ stage: opts.stage, status: opts.status, limit: opts.limit });
        if (opts.json) process.stdout.write(JSON.stringify(list, null, 2) + '\n');
        else printRunsTable(list);
      });
    });

  runs
    .command('show')
    .description('show one run: config, parents, metric summary, checkpoints')
    .argument('<id>', 'run id', parseRunId)
    .option('--json', 'print JSON {run, metrics, checkpoints, artefacts}')
    .action(async (id: number, opts: { json?: boolean }, cmd: Command) => {
      await withServices(cmd, (s) => {
        const run = s.runs.get(id);
        const metrics = s.metrics.summary(id);
        const checkpoints = s.checkpoints.list(id);
        const artefacts = s.artefacts.list({ runId: id });
        if (opts.json) {
          process.stdout.write(JSON.stringify({ run, metrics, checkpoints, artefacts }, null, 2) + '\n');
          return;
        }
        const out: string[] = [];
        out.push(`run ${run.id}${run.name ? ` "${run.name}"` : ''}: ${run.stage}, ${run.status}`);
        const fields: [string, string | number | null][] = [
          ['created', formatTime(run.createdAt)],
          ['started', formatTime(run.startedAt)],
          ['finished', formatTime(run.finishedAt)],
          ['duration', formatDuration(run.startedAt, run.finishedAt)],
          ['backend', run.backend],
          ['seed', run.seed],
          ['dataset', run.datasetId],
          ['experiment', run.experimentId],
          ['parents', run.parents.map((p) => `${p.role} ${p.runId}`).join(', ') || null],
          ['tags', run.tags.join(', ') || null],
          ['error', run.error],
        ];
        for (const [k, v] of fields) if (v !== null && v !== '') out.push(`  ${k.padEnd(10)} ${v}`);
        if (run.notes) out.push('', 'notes:', ...run.notes.split('\n').map((l) => `  ${l}`));
        out.push('', 'config:');
        out.push(...JSON.stringify(run.config, null, 2).split('\n').map((l) => `  ${l}`));
        out.push('', 'metrics:');
        if (metrics.length === 0) out.push('  (none recorded yet)');
        else
          out.push(
            ...formatTable(
              ['NAME', 'SPLIT', 'POINTS', 'LAST', 'AT STEP', 'BEST', 'AT STEP', 'GOAL'],
              metrics.map((m) => [m.name, m.split, m.count, formatValue(m.last.value), m.last.step, formatValue(m.best.value), m.best.step, m.goal]),
            )
              .trimEnd()
              .split('\n')
              .map((l) => `  ${l}`),
          );
        if (checkpoints.length) {
          out.push('', 'checkpoints:');
          out.push(
            ...formatTable(['KIND', 'STEP', 'SHA256', 'PATH'], checkpoints.map((c) => [c.kind, c.step, c.sha256.slice(0, 12), c.path]))
              .trimEnd()
              .split('\n')
              .map((l) => `  ${l}`),
          );
        }
        if (artefacts.length) out.push('', `artefacts: ${artefacts.length} (${[...new Set(artefacts.map((a) => a.kind))].join(', ')})`);
        process.stdout.write(out.join('\n') + '\n');
      });
    });

  runs
    .command('annotate')
    .description('set a run\'s notes and add or remove its tags')
    .argument('<id>', 'run id', parseRunId)
    .option('--note <text>', 'replace the run\'s notes with this text (\'\' clears them)')
    .option('--tag <tags>', 'add these comma-separated tags, e.g. --tag baseline,lr-sweep')
    .option('--untag <tags>', 'remove these comma-separated tags (any case)')
    .option('--json', 'print the updated run as JSON (the contract Run)')
    .action(async (id: number, opts: { note?: string; tag?: string; untag?: string; json?: boolean }, cmd: Command) => {
      if (opts.note === undefined && opts.tag === undefined && opts.untag === undefined) {
        throw new Error('runs annotate: give --note, --tag or --untag (see `brainsynth runs annotate --help`)');
      }
      await withServices(cmd, (s) => {
        // Read and write in one transaction: a tag added meanwhile by the app is kept.
        const run = s.store.transaction(() => {
          const current = s.runs.get(id);
          const tags = opts.tag === undefined && opts.untag === undefined ? undefined : editTags(current.tags, splitTagList(opts.tag ?? ''), splitTagList(opts.untag ?? ''));
          return s.runs.update({ id, ...(opts.note !== undefined ? { notes: opts.note } : {}), ...(tags ? { tags } : {}) });
        });
        if (opts.json) {
          process.stdout.write(JSON.stringify(run, null, 2) + '\n');
          return;
        }
        const lines = [`run ${run.id}${run.name ? ` "${run.name}"` : ''}`, `  tags       ${run.tags.join(', ') || '(none)'}`];
        lines.push(run.notes ? `  notes      ${run.notes.split('\n').join('\n             ')}` : '  notes      (none)');
        process.stdout.write(lines.join('\n') + '\n');
      });
    });
}

/**
 * `brainsynth evaluate --run R --split test [--steps N] [--seed S] [--limit K]`: samples every slice
 * of the split from the run's prepared dataset, computes PSNR / MAE / MS-SSIM per image (+ lesion
 * columns where masks exist) and the model-free baselines, stores an evaluation run and prints
 * the table (model vs baselines, mean ± population std) and the sampling time per slice.
 * Also: --show E (results of evaluation run E), --compare E1,E2,... and --csv FILE (export), and
 * --baselines-only --dataset D (the model-free baselines on a split, no model and nothing stored).
 */
import { Command, Option } from 'commander';
import type { Services } from '../../backend';
import type { EvaluationResults, MetricStats } from '../../backend/evaluation/evaluate';
import { getDatasetDetail } from '../../backend/data/datasets';
import { createSampleServices } from '../../backend/sampling/generate';
import { lesionMaskPaths } from '../../backend/sampling/models';
import { evaluateBaselinesOnly } from '../../ml/sample/evaluation';
import type { SplitName } from '../../ml/data/split';
import { withServices } from '../services';
import { formatTable } from '../table';
import { addSamplingOptions, samplingRequest, waitWithProgress, type SamplingCliOptions } from './generate';

function cell(s: MetricStats | undefined): string {
  if (!s || s.n === 0) return '-';
  const digits = s.name.startsWith('psnr') ? 3 : 4;
  return `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}`;
}

/** Model vs baselines, one row per metric. */
export function resultsTable(r: EvaluationResults): string {
  const baselines = Object.keys(r.baselines).sort();
  const rows = r.model.map((m) => [m.name, cell(m), ...baselines.map((b) => cell(r.baselines[b]!.find((x) => x.name === m.name)))]);
  const head =
    `evaluation run ${r.runId} (model run ${r.modelRunId ?? '?'}), split ${r.split}, ${r.images} images` +
    (r.steps !== null ? `, ${r.steps} steps, seed ${r.seed}` : '') +
    (r.normalisation ? `, normalisation ${r.normalisation.method}${r.normalisation.percentiles ? ` ${r.normalisation.percentiles.join('/')}` : ''}` : '') +
    '\n';
  const time = r.secondsPerSlice !== null ? `sampling time: ${r.secondsPerSlice.toFixed(2)} s per slice (backend ${r.backend ?? '?'})\n` : '';
  const notes = r.notes.map((n) => `note: ${n}\n`).join('');
  return head + formatTable(['metric', 'model', ...baselines], rows) + time + notes;
}

function ids(text: string): number[] {
  const out = text.split(/[\s,]+/).filter(Boolean).map(Number);
  if (out.length === 0 || out.some((v) => !Number.isInteger(v) || v <= 0)) throw new Error(`expected run ids like 4,7, got ${JSON.stringify(text)}`);
  return out;
}

function exportCsv(services: Services, runIds: number[], o: { csv?: string; split?: string; perImage?: boolean }): void {
  if (!o.csv) return;
  const r = services.sampling.evaluate.exportCsv(runIds, { split: o.split, kind: o.perImage ? 'per-image' : 'summary', path: o.csv });
  process.stdout.write(`wrote ${r.rows} rows to ${r.path}\n`);
}

interface EvaluateCliOptions extends Omit<SamplingCliOptions, 'run'> {
  run?: string;
  split?: string;
  limit?: string;
  images: boolean;
  show?: string;
  compare?: string;
  csv?: string;
  perImage?: boolean;
  json?: boolean;
  name?: string;
  baselinesOnly?: boolean;
  dataset?: string;
}

async function baselinesOnly(services: Services, o: EvaluateCliOptions): Promise<void> {
  if (!o.dataset) throw new Error('--baselines-only needs --dataset <id or name>');
  const detail = getDatasetDetail(services.store.db, o.dataset);
  const cacheDir = (detail.prepared as { cacheDir?: string } | null)?.cacheDir;
  if (!cacheDir) throw new Error(`dataset "${detail.name}" is not prepared; run \`brainsynth data prepare\` first`);
  const split = (o.split ?? 'test') as SplitName;
  const r = await evaluateBaselinesOnly({ datasetDir: cacheDir, split, limit: o.limit !== undefined ? Number(o.limit) : undefined, lesionMasks: lesionMaskPaths(detail) });
  if (o.json) {
    const out = Object.fromEntries(Object.entries(r.baselines).map(([k, t]) => [k, t.summary]));
    process.stdout.write(JSON.stringify({ dataset: detail.name, split, images: r.images, baselines: out, notes: r.notes }, null, 1) + '\n');
    return;
  }
  const names = Object.keys(r.baselines).sort();
  const cols = r.baselines.baseline_lut.columns;
  const rows = cols.map((c) => [c, ...names.map((b) => {
    const s = r.baselines[b as keyof typeof r.baselines].summary[c]!;
    return cell({ name: c, mean: s.mean, std: s.std, min: s.min, max: s.max, n: s.n, missing: s.missing });
  })]);
  process.stdout.write(`model-free baselines on dataset "${detail.name}" (${detail.normalisation ?? '?'} normalisation), split ${split}, ${r.images} images, 160x224 grid; fitted on the train split\n`);
  process.stdout.write(formatTable(['metric', ...names], rows));
  for (const n of r.notes) process.stdout.write(`note: ${n}\n`);
}

export function register(program: Command): void {
  const cmd = program.command('evaluate').description('evaluate a ControlNet run on a split (stored as an evaluation run), or show / compare / export evaluations');
  addSamplingOptions(cmd);
  // --run is only required when evaluating (not with --show / --compare).
  const runOpt = cmd.options.find((x) => x.long === '--run')!;
  runOpt.mandatory = false;
  cmd
    .addOption(new Option('--split <name>', 'split to evaluate / show').choices(['train', 'validation', 'test']))
    .option('--limit <k>', 'only K slices of the split, evenly spaced through it (several subjects, the whole band)')
    .option('--no-images', 'do not save the FLAIR | generated | real T1w image triples')
    .option('--name <text>', 'name of the evaluation run')
    .option('--show <evalRunId>', 'print the results of an existing evaluation run')
    .option('--compare <ids>', 'compare evaluation runs side by side, e.g. 5,8')
    .option('--csv <file>', 'export the results as CSV (summary rows, or per-image with --per-image)')
    .option('--per-image', 'per-image rows (with --show --json or --csv)')
    .option('--json', 'print the results as JSON')
    .option('--baselines-only', 'only the model-free baselines on --dataset (no model, nothing stored)')
    .option('--dataset <ref>', 'dataset id or name (with --baselines-only)')
    .action(async (o: EvaluateCliOptions, c: Command) => {
      await withServices(c, async (services) => {
        if (o.baselinesOnly) return baselinesOnly(services, o);
        const s = createSampleServices(services, { inProcess: true });
        if (o.compare) {
          const list = ids(o.compare);
          const results = s.evaluate.compare(list, o.split);
          if (o.json) process.stdout.write(JSON.stringify(results, null, 1) + '\n');
          else for (const r of results) process.stdout.write(resultsTable(r) + '\n');
          exportCsv(services, list, o);
          return;
        }
        if (o.show) {
          const [id] = ids(o.show);
          const r = s.evaluate.results(id!, { split: o.split, perImage: o.perImage });
          process.stdout.write(o.json ? JSON.stringify(r, null, 1) + '\n' : resultsTable(r));
          exportCsv(services, [id!], o);
          return;
        }
        if (!o.run) throw new Error('evaluate needs --run <ControlNet run id> (or --show / --compare)');
        const req = samplingRequest({ ...o, run: o.run });
        const { run, jobId } = s.evaluate.start({
          ...req,
          split: (o.split ?? 'test') as 'train' | 'validation' | 'test',
          limit: o.limit !== undefined ? Number(o.limit) : undefined,
          saveImages: o.images,
          name: o.name,
        });
        process.stderr.write(`evaluation run ${run.id}: evaluating run ${req.runId} on the ${o.split ?? 'test'} split\n`);
        await waitWithProgress(services, s.host, jobId, 'evaluate');
        const r = s.evaluate.results(run.id, { perImage: o.perImage });
        process.stdout.write(o.json ? JSON.stringify(r, null, 1) + '\n' : resultsTable(r));
        exportCsv(services, [run.id], o);
      });
    });
}

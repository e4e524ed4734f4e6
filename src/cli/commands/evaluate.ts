/**
 * `brainsynth evaluate --run R --split test [--steps N] [--seed S] [--limit K] [--dataset D]`:
 * evaluates a run of any stage on a split of its prepared dataset (or of dataset D) and stores an
 * evaluation run. A ControlNet run: every slice translated, PSNR / MAE / MS-SSIM per image (+ lesion
 * columns where masks exist) beside the model-free baselines and the autoencoder ceiling. An
 * autoencoder run: the same columns for its reconstructions of the real T1w. An LDM run:
 * `--samples K` unconditional samples, the Frechet distance on `--features model.json` and the
 * MS-SSIM diversity. Prints the table (mean ± population std) and the sampling time.
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

/** The sample-quality lines of an LDM evaluation. */
function sampleQualityText(r: EvaluationResults): string {
  const q = r.sampleQuality;
  if (!q) return '';
  const f = q.frechet;
  const ceiling = f.name ? r.baselines.ceiling_autoencoder?.find((x) => x.name === f.name) : undefined;
  const lines = [
    f.computed && f.value !== null
      ? `${f.name} = ${f.value.toFixed(4)} (${f.samples} samples vs ${f.realImages} real slices, ${f.featureDim}-d features${f.realFeaturesCached ? ', real features cached' : ''})` +
        (ceiling?.mean != null ? `; autoencoder ceiling ${ceiling.mean.toFixed(4)}` : '')
      : `Frechet distance: not computed (${f.reason})`,
    q.diversity ? `ms_ssim_diversity = ${q.diversity.mean.toFixed(4)} ± ${q.diversity.std.toFixed(4)} (${q.diversity.samples} samples, ${q.diversity.orderedPairs} ordered pairs; lower = more diverse)` : 'ms_ssim_diversity: needs at least 2 samples',
  ];
  return lines.map((l) => l + '\n').join('');
}

/** Model vs baselines (and the autoencoder ceiling), one row per metric. */
export function resultsTable(r: EvaluationResults): string {
  const baselines = Object.keys(r.baselines).filter((b) => r.model.length > 0 && r.baselines[b]!.some((x) => r.model.some((m) => m.name === x.name))).sort();
  const rows = r.model.map((m) => [m.name, cell(m), ...baselines.map((b) => cell(r.baselines[b]!.find((x) => x.name === m.name)))]);
  const what = r.stage === 'ldm' ? 'samples' : 'images';
  const head =
    `evaluation run ${r.runId} (${r.stage} run ${r.modelRunId ?? '?'}), split ${r.split}, ${r.images} ${what}` +
    (r.steps !== null ? `, ${r.steps} steps, seed ${r.seed}` : '') +
    (r.normalisation ? `, normalisation ${r.normalisation.method}${r.normalisation.percentiles ? ` ${r.normalisation.percentiles.join('/')}` : ''}` : '') +
    '\n';
  const time = r.secondsPerSlice !== null ? `sampling time: ${r.secondsPerSlice.toFixed(2)} s per slice (backend ${r.backend ?? '?'})\n` : '';
  const notes = r.notes.map((n) => `note: ${n}\n`).join('');
  const settings = r.sampling && r.sampling.guidanceScale !== null ? `guidance ${r.sampling.guidanceScale}, conditioning scale ${r.sampling.conditioningScale}${(r.sampling.samplesPerSlice ?? 1) > 1 ? `, ${r.sampling.samplesPerSlice} samples per slice (posterior_mean = their mean)` : ''}${r.sampling.brainMask ? ", brain mask on (output zeroed outside the FLAIR's brain)" : ''}\n` : '';
  const table = rows.length > 0 ? formatTable(['metric', r.stage === 'autoencoder' ? 'reconstruction' : 'model', ...baselines], rows) : '';
  return head + settings + table + sampleQualityText(r) + time + notes;
}

type SweepPoint = { guidance?: string; conditioningScale?: string; steps?: string };

function listOf(text: string | undefined): (string | undefined)[] {
  if (text === undefined) return [undefined];
  const parts = text.split(',').map((x) => x.trim()).filter(Boolean);
  return parts.length > 0 ? parts : [undefined];
}

/** Every combination of the comma-separated --guidance, --conditioning-scale and --steps values. */
export function sweepGrid(o: SweepPoint): SweepPoint[] {
  const out: SweepPoint[] = [];
  for (const guidance of listOf(o.guidance)) for (const conditioningScale of listOf(o.conditioningScale)) for (const steps of listOf(o.steps)) out.push({ guidance, conditioningScale, steps });
  return out;
}

function sweepLabel(p: SweepPoint): string {
  return [p.guidance !== undefined ? `guidance ${p.guidance}` : '', p.conditioningScale !== undefined ? `conditioning ${p.conditioningScale}` : '', p.steps !== undefined ? `steps ${p.steps}` : '']
    .filter(Boolean)
    .join(', ');
}

/** One row per evaluation of a sweep: its settings, then every model metric (and the posterior mean's), mean ± std. */
export function sweepTable(results: EvaluationResults[]): string {
  const names = [...new Set(results.flatMap((r) => r.model.map((m) => m.name)))];
  const post = [...new Set(results.flatMap((r) => (r.baselines.posterior_mean ?? []).map((m) => m.name)))];
  const rows = results.map((r) => [
    String(r.runId),
    String(r.sampling?.guidanceScale ?? '-'),
    String(r.sampling?.conditioningScale ?? '-'),
    String(r.steps ?? '-'),
    ...names.map((n) => cell(r.model.find((m) => m.name === n))),
    ...post.map((n) => cell(r.baselines.posterior_mean?.find((m) => m.name === n))),
  ]);
  const first = results[0];
  const head = first ? `sweep over ${results.length} evaluations of run ${first.modelRunId ?? '?'}, split ${first.split}, ${first.images} images\n` : '';
  const baselines = first ? Object.keys(first.baselines).filter((b) => b !== 'posterior_mean').sort() : [];
  const ref = first
    ? baselines.map((b) => `${b}: ${first.baselines[b]!.filter((m) => names.includes(m.name)).map((m) => `${m.name} ${cell(m)}`).join(', ')}\n`).join('')
    : '';
  return head + formatTable(['eval run', 'guidance', 'conditioning', 'steps', ...names, ...post.map((n) => `mean-of-K ${n}`)], rows) + ref;
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
  samples?: string;
  features?: string;
  featureLayer?: string;
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
  const cmd = program.command('evaluate').description('evaluate a run of any stage on a split (stored as an evaluation run), or show / compare / export evaluations');
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
    .option('--dataset <ref>', "dataset id or name to evaluate on (default: the run's training dataset; required with --baselines-only)")
    .option('--samples <k>', 'LDM runs: unconditional samples to draw (default 16); ControlNet runs: samples per slice, their mean scored too (default 1)')
    .option('--features <model.json>', 'LDM runs: TF.js layers model whose features the Frechet distance uses (not computed without one)')
    .option('--feature-layer <name>', 'layer of the --features network to pool (default: its deepest feature map)')
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
        if (!o.run) throw new Error('evaluate needs --run <run id> (or --show / --compare)');
        const samples = o.samples !== undefined ? Number(o.samples) : undefined;
        if (samples !== undefined && !(Number.isInteger(samples) && samples >= 1)) throw new Error(`--samples must be a whole number >= 1, got ${JSON.stringify(o.samples)}`);
        // --guidance 1,3,7 (and lists for --conditioning-scale, --steps): one evaluation per combination.
        const grid = sweepGrid(o);
        const evalIds: number[] = [];
        for (const point of grid) {
          const req = samplingRequest({ ...o, ...point, run: o.run });
          const label = sweepLabel(point);
          const { run, jobId } = s.evaluate.start({
            ...req,
            dataset: o.dataset !== undefined ? (/^\d+$/.test(o.dataset) ? Number(o.dataset) : o.dataset) : undefined,
            samples,
            features: o.features,
            featureLayer: o.featureLayer,
            split: (o.split ?? 'test') as 'train' | 'validation' | 'test',
            limit: o.limit !== undefined ? Number(o.limit) : undefined,
            saveImages: o.images,
            name: o.name ?? (label ? `evaluate run ${req.runId} ${label}` : undefined),
          });
          process.stderr.write(`evaluation run ${run.id}: evaluating ${(run.config as { stage?: string }).stage ?? ''} run ${req.runId} on the ${o.split ?? 'test'} split${label ? ` (${label})` : ''}\n`);
          await waitWithProgress(services, s.host, jobId, 'evaluate');
          evalIds.push(run.id);
          if (grid.length === 1) {
            const r = s.evaluate.results(run.id, { perImage: o.perImage });
            process.stdout.write(o.json ? JSON.stringify(r, null, 1) + '\n' : resultsTable(r));
          }
        }
        if (grid.length > 1) {
          const results = s.evaluate.compare(evalIds, o.split);
          process.stdout.write(o.json ? JSON.stringify(results, null, 1) + '\n' : sweepTable(results));
        }
        exportCsv(services, evalIds, o);
      });
    });
}

/**
 * `brainsynth metrics --pred P --target T [--mask M] [--json]`: image-quality metrics between a
 * prediction and its target, given as two NIfTI volumes (one row per axial slice) or two folders
 * of PNGs matched by file name (8-bit, /255). Per-image PSNR / MAE / MS-SSIM (MONAI definitions,
 * kernel 7, data range 1), lesion-aware columns with a mask, and mean ± population std.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { PNG } from 'pngjs';
import { readNifti } from '../../ml/data/nifti';
import { normaliseSlice, percentileStats } from '../../ml/data/slices';
import { evaluatePairs, summarize, type MetricSummary } from '../../ml/metrics';

export interface MetricsInputs {
  pred: string;
  target: string;
  mask?: string;
  /** PSNR peak / SSIM data range. */
  dataRange?: number;
  /**
   * NIfTI only: "none" (values used as stored), "minmax" (per volume, negatives clipped to 0) or
   * "percentile" (per volume, the lo/hi percentiles of its signal mapped to 0/1 and clipped, as
   * `data prepare --normalisation percentile` scales a dataset).
   */
  normalize?: MetricsNormalize;
  /** Percentiles for "percentile" (default 0.5 / 99.5, as prepare). */
  percentiles?: [number, number];
  /** Which volumes to scale: both (default), or only the target when the prediction is already in model space. */
  normalizeWhich?: 'both' | 'target';
  /** NIfTI only: keep slices whose target has no signal (skipped by default). */
  includeEmpty?: boolean;
  /** NIfTI only: axial slice range "from:to" (inclusive). */
  slices?: string;
}

export const METRICS_NORMALIZE = ['none', 'minmax', 'percentile'] as const;
export type MetricsNormalize = (typeof METRICS_NORMALIZE)[number];

export interface MetricsRow {
  name: string;
  values: Record<string, number>;
}

export interface MetricsReport {
  kind: 'nifti' | 'png';
  pred: string;
  target: string;
  mask: string | null;
  dataRange: number;
  normalize: string;
  columns: string[];
  rows: MetricsRow[];
  summary: Record<string, MetricSummary>;
  notes: string[];
}

interface Plane {
  name: string;
  height: number;
  width: number;
  pred: Float32Array;
  target: Float32Array;
  mask?: Float32Array;
}

function isDirectory(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory();
}

function requireExists(path: string, role: string): void {
  if (!existsSync(path)) throw new Error(`${role} ${path}: no such file or folder`);
}

// ---------- PNG folders ----------

function readPngGray(path: string): { data: Float32Array; height: number; width: number } {
  let png: PNG;
  try {
    png = PNG.sync.read(readFileSync(path));
  } catch (err) {
    throw new Error(`${path}: not a readable PNG (${err instanceof Error ? err.message : String(err)})`);
  }
  const { width, height, data } = png;
  const out = new Float32Array(width * height);
  // pngjs expands every PNG to 8-bit RGBA; grey images have R = G = B, so R is the intensity.
  for (let i = 0; i < out.length; i++) out[i] = data[4 * i] / 255;
  return { data: out, height, width };
}

function pngNames(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n.toLowerCase().endsWith('.png'))
    .sort();
}

function loadPngPlanes(inputs: MetricsInputs, notes: string[]): Plane[] {
  const predNames = pngNames(inputs.pred);
  const targetNames = new Set(pngNames(inputs.target));
  const common = predNames.filter((n) => targetNames.has(n));
  if (common.length === 0) {
    throw new Error(`no PNG file names in common between ${inputs.pred} (${predNames.length} PNGs) and ${inputs.target} (${targetNames.size} PNGs); files are matched by name`);
  }
  const onlyPred = predNames.length - common.length;
  const onlyTarget = targetNames.size - common.length;
  if (onlyPred || onlyTarget) notes.push(`matched ${common.length} PNGs by name; ${onlyPred} only in --pred, ${onlyTarget} only in --target (ignored)`);
  if (inputs.mask && !isDirectory(inputs.mask)) throw new Error(`--mask ${inputs.mask}: with PNG folders the mask must be a folder of PNGs with the same names`);
  return common.map((name) => {
    const p = readPngGray(join(inputs.pred, name));
    const t = readPngGray(join(inputs.target, name));
    if (p.height !== t.height || p.width !== t.width) {
      throw new Error(`${name}: prediction is ${p.height}x${p.width} but target is ${t.height}x${t.width}`);
    }
    const plane: Plane = { name, height: p.height, width: p.width, pred: p.data, target: t.data };
    if (inputs.mask) {
      const maskPath = join(inputs.mask, name);
      if (!existsSync(maskPath)) throw new Error(`${maskPath}: mask missing for ${name}`);
      const m = readPngGray(maskPath);
      if (m.height !== p.height || m.width !== p.width) throw new Error(`${maskPath}: mask is ${m.height}x${m.width}, images are ${p.height}x${p.width}`);
      plane.mask = m.data;
    }
    return plane;
  });
}

// ---------- NIfTI volumes ----------

function minMaxNormalise(data: Float32Array): Float32Array {
  let max = 0;
  for (const v of data) if (v > max) max = v;
  const out = new Float32Array(data.length);
  if (max > 0) for (let i = 0; i < data.length; i++) out[i] = Math.max(0, data[i]) / max;
  return out;
}

/** The scaling prepare's "percentile" applies to a volume, on a copy. */
function percentileNormalise(data: Float32Array, percentiles: [number, number]): Float32Array {
  const out = Float32Array.from(data);
  normaliseSlice(out, percentileStats(data, percentiles));
  return out;
}

function parseSliceRange(text: string, nz: number): [number, number] {
  const m = /^(\d+):(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`--slices "${text}": expected FROM:TO (axial indices, inclusive), e.g. 50:130`);
  const from = Number(m[1]);
  const to = Number(m[2]);
  if (from > to || to >= nz) throw new Error(`--slices ${text}: must satisfy FROM <= TO <= ${nz - 1}`);
  return [from, to];
}

async function loadNiftiPlanes(inputs: MetricsInputs, notes: string[]): Promise<Plane[]> {
  const pred = await readNifti(inputs.pred);
  const target = await readNifti(inputs.target);
  const grid = (d: readonly number[]) => d.join('x');
  if (grid(pred.dims) !== grid(target.dims)) {
    throw new Error(`${basename(inputs.pred)}: grid ${grid(pred.dims)} does not match ${basename(inputs.target)} ${grid(target.dims)}`);
  }
  const mask = inputs.mask ? await readNifti(inputs.mask) : undefined;
  if (mask && grid(mask.dims) !== grid(target.dims)) {
    throw new Error(`${basename(inputs.mask!)}: grid ${grid(mask.dims)} does not match ${basename(inputs.target)} ${grid(target.dims)}`);
  }
  if (pred.frames > 1 || target.frames > 1) notes.push('4D input: only the first volume is compared');
  const [nx, ny, nz] = target.dims;
  const voxels = nx * ny * nz;
  let p = pred.data.subarray(0, voxels);
  let t = target.data.subarray(0, voxels);
  const scale =
    inputs.normalize === 'minmax'
      ? minMaxNormalise
      : inputs.normalize === 'percentile'
        ? (d: Float32Array) => percentileNormalise(d, inputs.percentiles ?? [0.5, 99.5])
        : null;
  if (scale) {
    if (inputs.normalizeWhich !== 'target') p = scale(p);
    t = scale(t);
  } else {
    const range = inputs.dataRange ?? 1;
    let outside = 0;
    for (const arr of [p, t]) for (const v of arr) if (v < 0 || v > range) outside++;
    if (outside > 0) notes.push(`${outside} voxels lie outside [0, ${range}]; pass --normalize percentile|minmax or --data-range if the volumes are not scaled`);
  }
  const [from, to] = inputs.slices ? parseSliceRange(inputs.slices, nz) : [0, nz - 1];
  const planes: Plane[] = [];
  let skipped = 0;
  for (let z = from; z <= to; z++) {
    const o = z * nx * ny;
    const tp = t.subarray(o, o + nx * ny);
    if (!inputs.includeEmpty && !tp.some((v) => v > 0)) {
      skipped++;
      continue;
    }
    // The plane in the file's own voxel order (rows = y, columns = x); the metrics do not depend on it.
    const plane: Plane = { name: `z=${z}`, height: ny, width: nx, pred: p.slice(o, o + nx * ny), target: tp.slice() };
    if (mask) plane.mask = mask.data.slice(o, o + nx * ny);
    planes.push(plane);
  }
  if (skipped) notes.push(`${skipped} axial slices without target signal skipped (--include-empty keeps them)`);
  if (planes.length === 0) throw new Error(`${basename(inputs.target)}: no axial slice with signal in the selected range`);
  return planes;
}

// ---------- evaluation ----------

/** The scaling as recorded in the report, e.g. "percentile 0.5/99.5 (target only)". */
function describeNormalize(inputs: MetricsInputs): string {
  const mode = inputs.normalize ?? 'none';
  if (mode === 'none') return 'none';
  const p = inputs.percentiles ?? [0.5, 99.5];
  return `${mode === 'percentile' ? `percentile ${p[0]}/${p[1]}` : mode}${inputs.normalizeWhich === 'target' ? ' (target only)' : ''}`;
}

export async function computeMetrics(inputs: MetricsInputs): Promise<MetricsReport> {
  requireExists(inputs.pred, '--pred');
  requireExists(inputs.target, '--target');
  if (inputs.mask) requireExists(inputs.mask, '--mask');
  const dataRange = inputs.dataRange ?? 1;
  if (!(dataRange > 0)) throw new Error(`--data-range must be > 0, got ${inputs.dataRange}`);
  const predIsDir = isDirectory(inputs.pred);
  if (predIsDir !== isDirectory(inputs.target)) {
    throw new Error('--pred and --target must both be NIfTI files or both be PNG folders');
  }
  const notes: string[] = [];
  const kind = predIsDir ? 'png' : 'nifti';
  const planes = predIsDir ? loadPngPlanes(inputs, notes) : await loadNiftiPlanes(inputs, notes);
  const rows: MetricsRow[] = [];
  const columns: string[] = [];
  const noteSet = new Set<string>();
  // Images may differ in size between PNGs: evaluate one at a time and collect the columns.
  for (const plane of planes) {
    const shape = [1, plane.height, plane.width];
    const table = evaluatePairs({ data: plane.pred, shape }, { data: plane.target, shape }, {
      dataRange,
      lesion: plane.mask ? { data: plane.mask, shape } : undefined,
      // Non-lesion region: the brain, taken as the target's foreground.
      brain: plane.mask ? { data: plane.target, shape } : undefined,
    });
    for (const c of table.columns) if (!columns.includes(c)) columns.push(c);
    table.notes.forEach((n) => noteSet.add(n));
    const values: Record<string, number> = {};
    for (const c of table.columns) values[c] = table.values[c][0];
    rows.push({ name: plane.name, values });
  }
  const summary: Record<string, MetricSummary> = {};
  for (const c of columns) summary[c] = summarize(rows.map((r) => r.values[c] ?? NaN));
  return {
    kind,
    pred: inputs.pred,
    target: inputs.target,
    mask: inputs.mask ?? null,
    dataRange,
    normalize: kind === 'nifti' ? describeNormalize(inputs) : 'png/255',
    columns,
    rows,
    summary,
    notes: [...notes, ...noteSet],
  };
}

// ---------- output ----------

const DIGITS: Record<string, number> = { psnr: 3, mae: 5 };

function fmt(column: string, v: number | undefined): string {
  if (v === undefined || Number.isNaN(v)) return '-';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  return v.toFixed(DIGITS[column.split('_')[0]] ?? 4);
}

export function formatMetricsTable(report: MetricsReport): string {
  const header = ['image', ...report.columns];
  const lines = report.rows.map((r) => [r.name, ...report.columns.map((c) => fmt(c, r.values[c]))]);
  const mean = ['mean', ...report.columns.map((c) => fmt(c, report.summary[c].mean))];
  const std = ['std (pop.)', ...report.columns.map((c) => fmt(c, report.summary[c].std))];
  const all = [header, ...lines, mean, std];
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i].length)));
  const render = (row: string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const out = [render(header), rule, ...lines.map(render), rule, render(mean), render(std)];
  out.push(
    '',
    `${report.rows.length} images (${report.kind}); data range ${report.dataRange}; normalisation ${report.normalize}; ` +
      'MS-SSIM: MONAI definition, kernel 7, sigma 1.5; std is the population std (ddof 0)',
  );
  for (const n of report.notes) out.push(`note: ${n}`);
  return out.join('\n') + '\n';
}

/** JSON has no Infinity/NaN: NaN (undefined) becomes null, ±Infinity (identical images' PSNR) "inf"/"-inf". */
export function metricsReportJson(report: MetricsReport): string {
  return JSON.stringify(report, (_key, value) => (typeof value === 'number' && !Number.isFinite(value) ? (Number.isNaN(value) ? null : value > 0 ? 'inf' : '-inf') : value), 2) + '\n';
}

export function register(program: Command): void {
  program
    .command('metrics')
    .description('PSNR / MAE / MS-SSIM between two NIfTI volumes (per axial slice) or two PNG folders (matched by name)')
    .requiredOption('--pred <path>', 'predicted volume (.nii/.nii.gz) or folder of PNGs')
    .requiredOption('--target <path>', 'reference volume or folder of PNGs (same names)')
    .option('--mask <path>', 'lesion mask (volume, or PNG folder with the same names): adds lesion / non-lesion columns')
    .option('--json', 'machine-readable output')
    .option('--data-range <value>', 'PSNR peak and SSIM data range', '1')
    .option('--normalize <mode>', 'NIfTI only: none | minmax (per volume, negatives clipped to 0) | percentile (per volume, as data prepare)', 'none')
    .option('--percentiles <lo,hi>', 'percentiles for --normalize percentile', '0.5,99.5')
    .option('--normalize-target-only', 'scale only the target (the prediction is already in model space, e.g. a brainsynth translation)')
    .option('--slices <from:to>', 'NIfTI only: axial slice range, inclusive')
    .option('--include-empty', 'NIfTI only: keep axial slices whose target has no signal')
    .action(async (opts: {
      pred: string;
      target: string;
      mask?: string;
      json?: boolean;
      dataRange: string;
      normalize: string;
      percentiles: string;
      normalizeTargetOnly?: boolean;
      slices?: string;
      includeEmpty?: boolean;
    }) => {
      if (!(METRICS_NORMALIZE as readonly string[]).includes(opts.normalize)) {
        throw new Error(`--normalize must be ${METRICS_NORMALIZE.join(', ')}, got "${opts.normalize}"`);
      }
      const percentiles = opts.percentiles.split(',').map(Number);
      if (percentiles.length !== 2 || !(percentiles[0]! >= 0 && percentiles[0]! < percentiles[1]! && percentiles[1]! <= 100)) {
        throw new Error(`--percentiles ${opts.percentiles}: expected two numbers lo,hi with 0 <= lo < hi <= 100`);
      }
      const dataRange = Number(opts.dataRange);
      if (!(dataRange > 0)) throw new Error(`--data-range must be a positive number, got "${opts.dataRange}"`);
      const report = await computeMetrics({
        pred: opts.pred,
        target: opts.target,
        mask: opts.mask,
        dataRange,
        normalize: opts.normalize as MetricsNormalize,
        percentiles: percentiles as [number, number],
        normalizeWhich: opts.normalizeTargetOnly ? 'target' : 'both',
        slices: opts.slices,
        includeEmpty: opts.includeEmpty,
      });
      process.stdout.write(opts.json ? metricsReportJson(report) : formatMetricsTable(report));
    });
}

/**
 * The per-image metric table used by `brainsynth metrics` and evaluation runs: PSNR, MAE and
 * MS-SSIM per image (the reference's compute_controlnet_performance.py), optional lesion-aware
 * columns, and mean +- population std per column.
 */
import { pairLayout, type ImageBatch } from './images';
import { lesionRegions, maskedRegression, maskedSsimRegions } from './masked';
import { mae, psnr } from './regression';
import { msSsim, msSsimSizeProblem, REFERENCE_SSIM_KERNEL_SIZE, MS_SSIM_WEIGHTS } from './ssim';
import { summarize, type MetricSummary } from './summary';

export interface PairEvaluationOptions {
  /** PSNR peak and SSIM data range (1 for [0,1] images). */
  dataRange?: number;
  kernelSize?: number;
  /** Lesion mask per image (> 0.5 = lesion): adds *_lesion and *_nonlesion columns. */
  lesion?: ImageBatch;
  /** Brain mask per image (> 0 = brain): limits the non-lesion region to the brain. */
  brain?: ImageBatch;
}

export interface MetricTable {
  /** Column names in display order, e.g. psnr, mae, ms_ssim, psnr_lesion, ... */
  columns: string[];
  /** One value per image for each column (NaN where undefined, e.g. an empty lesion region). */
  values: Record<string, Float64Array>;
  summary: Record<string, MetricSummary>;
  /** Why a column is absent (e.g. MS-SSIM refused for the image size). */
  notes: string[];
}

export function evaluatePairs(pred: ImageBatch, target: ImageBatch, options: PairEvaluationOptions = {}): MetricTable {
  const { height, width } = pairLayout(pred, target);
  const { dataRange = 1, kernelSize = REFERENCE_SSIM_KERNEL_SIZE } = options;
  const values: Record<string, Float64Array> = {};
  const notes: string[] = [];
  values.psnr = psnr(pred, target, { maxVal: dataRange });
  values.mae = mae(pred, target);
  const problem = msSsimSizeProblem(height, width, kernelSize, MS_SSIM_WEIGHTS.length);
  if (problem) notes.push(`ms_ssim omitted: ${problem}`);
  else values.ms_ssim = msSsim(pred, target, { kernelSize, dataRange });
  if (options.lesion) {
    const regions = lesionRegions(options.lesion, options.brain);
    const ssims = maskedSsimRegions(pred, target, [regions.inside, regions.outside], { kernelSize, dataRange });
    for (const [k, [suffix, mask]] of ([['lesion', regions.inside], ['nonlesion', regions.outside]] as const).entries()) {
      const r = maskedRegression(pred, target, mask, dataRange);
      values[`psnr_${suffix}`] = r.psnr;
      values[`mae_${suffix}`] = r.mae;
      values[`ssim_${suffix}`] = ssims[k];
    }
  }
  const columns = Object.keys(values);
  const summary: Record<string, MetricSummary> = {};
  for (const c of columns) summary[c] = summarize(values[c]);
  return { columns, values, summary, notes };
}

/**
 * The few numbers a run listing shows so that runs can be compared at a glance, shared by the
 * app's runs table and `brainsynth runs list` so both name the same quantities.
 *
 * - Training runs: one named loss for both columns, the last train value and the best
 *   validation value of the SAME quantity. The total `loss` when both splits log it (LDM,
 *   ControlNet); otherwise the first reconstruction-like loss logged in both (the autoencoder
 *   logs a weighted total for training but only its parts for validation, so both show
 *   `l1_loss` rather than a weighted total beside an unweighted KL term).
 * - Evaluation runs: the model's mean PSNR and MS-SSIM over the evaluated images (not the last
 *   per-image row, and not a baseline's).
 */

/** The parts of a metric summary this needs (the contract's summary, flattened). */
export interface KeyMetricInput {
  name: string;
  split: string;
  last: number | null;
  best: number | null;
  /** Mean over all points (evaluation runs: over images). */
  mean?: number | null;
}

export interface KeyMetric {
  /** Short label for a reader, e.g. "train l1_loss", "PSNR". */
  label: string;
  /** The stored metric name. */
  name: string;
  value: number | null;
  /** Unit to print after the value ('' when none). */
  unit: string;
}

const VALIDATION_SPLITS = new Set(['validation', 'val', 'valid']);
export function isValidationSplit(split: string): boolean {
  return VALIDATION_SPLITS.has(split.toLowerCase());
}

/** Losses tried in order when picking the quantity both splits report. */
const LOSS_PREFERENCE = ['loss', 'l1_loss', 'mse_loss', 'recons_loss'];

/** The loss name logged in both the train and validation splits, by preference; null when none is. */
export function sharedLossName(summary: readonly KeyMetricInput[]): string | null {
  const train = new Set(summary.filter((m) => m.split.toLowerCase() === 'train').map((m) => m.name));
  const val = new Set(summary.filter((m) => isValidationSplit(m.split)).map((m) => m.name));
  for (const name of LOSS_PREFERENCE) if (train.has(name) && val.has(name)) return name;
  const common = [...train].filter((n) => val.has(n) && n.endsWith('_loss')).sort();
  if (common[0]) return common[0];
  // A run without validation yet: its total loss, else its first *_loss.
  if (train.has('loss')) return 'loss';
  return [...train].filter((n) => n.endsWith('_loss')).sort()[0] ?? null;
}

export interface TrainingKeyMetrics {
  name: string;
  trainLast: number | null;
  valBest: number | null;
}

export function trainingKeyMetrics(summary: readonly KeyMetricInput[]): TrainingKeyMetrics | null {
  const name = sharedLossName(summary);
  if (!name) return null;
  const train = summary.find((m) => m.name === name && m.split.toLowerCase() === 'train');
  const val = summary.find((m) => m.name === name && isValidationSplit(m.split));
  return { name, trainLast: train?.last ?? null, valBest: val?.best ?? null };
}

/** The model's mean PSNR and MS-SSIM of an evaluation run (any split it was evaluated on). */
export function evaluationKeyMetrics(summary: readonly KeyMetricInput[]): { psnr: number | null; msSsim: number | null } {
  const mean = (name: string) => {
    const m = summary.find((s) => s.name === name);
    return m ? (m.mean ?? null) : null;
  };
  return { psnr: mean('psnr'), msSsim: mean('ms_ssim') };
}

/** The key metrics of a run, in display order. */
export function keyMetrics(stage: string, summary: readonly KeyMetricInput[]): KeyMetric[] {
  if (stage === 'evaluation') {
    const { psnr, msSsim } = evaluationKeyMetrics(summary);
    const out: KeyMetric[] = [];
    if (psnr !== null) out.push({ label: 'PSNR', name: 'psnr', value: psnr, unit: 'dB' });
    if (msSsim !== null) out.push({ label: 'MS-SSIM', name: 'ms_ssim', value: msSsim, unit: '' });
    return out;
  }
  const t = trainingKeyMetrics(summary);
  if (!t) return [];
  const out: KeyMetric[] = [{ label: `train ${t.name}`, name: t.name, value: t.trainLast, unit: '' }];
  if (t.valBest !== null) out.push({ label: `best val ${t.name}`, name: t.name, value: t.valBest, unit: '' });
  return out;
}

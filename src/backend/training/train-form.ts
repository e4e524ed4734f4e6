import type { ParsedRequestOf, ResponseOf, RunStage, RunStatus } from '../../shared/contract';
import { checkpointDir } from '../../ml/pipeline/checkpoint';
import { CONFIG_CHOICES, type TrainConfig } from '../../ml/train/config';
import type { TrainStage } from '../../ml/train/session';
import type { ParentRunInfo } from '../../ml/train/validate';
import type { Services } from '../index';
import { preparedDatasetDir } from '../data/prepared-dir';

/**
 * What the Train view's form needs before a run exists: the config a request would train with,
 * the reference preset's values next to it, and the same refusal `jobs.start` would give (it calls
 * the training code's own buildTrainConfig + validateTrainConfig, so the form and the back end
 * cannot disagree). Unlike jobs.config (which refuses an invalid request outright) it always
 * answers the preset's base config when it can be built, so the form can show the fields that
 * need fixing. Nothing is written. Parent runs are resolved by TrainingJobs.parentInfo, as
 * jobs.start resolves them.
 */

/** The Train form's request and answer ('train.validate'), as the contract defines them. */
export type TrainFormRequest = ParsedRequestOf<'train.validate'>;
export type TrainFormAnswer = ResponseOf<'train.validate'>;

export interface ParentCandidate {
  id: number;
  name: string | null;
  stage: RunStage;
  status: RunStatus;
  datasetId: number | null;
  imageSize: number[] | null;
  finishedAt: string | null;
}

const REQUIRED_PARENT: Record<TrainStage, 'autoencoder' | 'ldm' | null> = { autoencoder: null, ldm: 'autoencoder', controlnet: 'ldm' };

const asJson = (c: TrainConfig): Record<string, unknown> => c as unknown as Record<string, unknown>;

/** The prepared-slice folder of a dataset, as jobs.start resolves it. */
function datasetDir(s: Services, datasetId: number): string {
  let found;
  try {
    found = preparedDatasetDir(s, datasetId);
  } catch {
    throw new Error(`unknown dataset ${datasetId}`);
  }
  if (found.dir === null) throw new Error(`dataset ${datasetId} (${found.name}) has no prepared slices; prepare it in the Data view first`);
  return found.dir;
}

/**
 * The one path from a Train form request to its configs: base preset, reference chain, the
 * request's config and the refusal jobs.start would give (null = it would start). `parent` and
 * `datasetDir` resolve the request's ids and throw with the reason. Both 'train.validate' and
 * 'jobs.config' answer from here.
 */
export async function evaluateTrainForm(
  req: Omit<TrainFormRequest, 'datasetId' | 'parentRunId'> & { datasetId?: number; parentRunId?: number },
  resolve: { parent: (runId: number) => ParentRunInfo; datasetDir: (datasetId: number) => string },
): Promise<TrainFormAnswer> {
  // Loaded on first use: the validation constructs networks (tfjs), which quick commands never need.
  const { buildTrainConfig, validateTrainConfig } = await import('../../ml/train/validate');
  const { desktopChildBudget } = await import('../../ml/train/pipeline-budget');
  const choices = Object.fromEntries(Object.entries(CONFIG_CHOICES).map(([k, v]) => [k, [...v]]));
  const answer: TrainFormAnswer = { base: null, reference: null, config: null, error: null, choices };
  let parent: ParentRunInfo | undefined;
  try {
    parent = req.parentRunId !== undefined ? resolve.parent(req.parentRunId) : undefined;
    const common = { stage: req.stage, epochs: req.epochs, seed: req.seed, parent };
    answer.base = asJson(buildTrainConfig({ ...common, preset: req.preset, overrides: [] }));
    answer.budgetNote = desktopChildBudget({ ...common, preset: req.preset })?.note ?? null;
    try {
      // The reference column follows a reference chain (published shapes at 160x224), not the
      // chosen parent.
      const asParent = (c: TrainConfig): ParentRunInfo => ({ runId: 0, stage: c.stage, status: 'completed', config: c, hasCheckpoint: true, runDir: '', parentDirs: {} });
      let reference = buildTrainConfig({ stage: 'autoencoder', preset: 'reference', overrides: [] });
      if (req.stage !== 'autoencoder') reference = buildTrainConfig({ stage: 'ldm', preset: 'reference', overrides: [], parent: asParent(reference) });
      if (req.stage === 'controlnet') reference = buildTrainConfig({ stage: 'controlnet', preset: 'reference', overrides: [], parent: asParent(reference) });
      answer.reference = asJson(reference);
    } catch {
      answer.reference = null;
    }
    const config = buildTrainConfig({ ...common, preset: req.preset, overrides: req.overrides ?? [] });
    answer.config = asJson(config);
    const dir = req.datasetId !== undefined ? resolve.datasetDir(req.datasetId) : undefined;
    validateTrainConfig(config, { parent, datasetDir: dir });
  } catch (err) {
    answer.error = err instanceof Error ? err.message : String(err);
  }
  return answer;
}

export async function trainForm(s: Services, req: TrainFormRequest): Promise<TrainFormAnswer> {
  const answer = await evaluateTrainForm(req, { parent: (id) => s.training.parentInfo(id), datasetDir: (id) => datasetDir(s, id) });
  if (answer.error === null && req.datasetId === undefined) answer.error = 'choose a prepared dataset';
  return answer;
}

/**
 * Runs a stage can start from: the required parent stage, finished (not queued/running), with a
 * "last" checkpoint on disk. Newest first; the same dataset's runs first.
 */
export function parentCandidates(s: Services, stage: TrainStage, datasetId?: number): { needs: 'autoencoder' | 'ldm' | null; runs: ParentCandidate[] } {
  const needs = REQUIRED_PARENT[stage];
  if (!needs) return { needs, runs: [] };
  const { runs } = s.runs.list({ stage: needs, limit: 10_000 });
  const out = runs
    .filter((r) => r.status !== 'running' && r.status !== 'queued')
    .filter((r) => checkpointDir(s.home.runDir(r.id), 'last') !== null)
    .map((r) => {
      const size = (r.config as { imageSize?: unknown }).imageSize;
      return {
        id: r.id,
        name: r.name,
        stage: r.stage,
        status: r.status,
        datasetId: r.datasetId,
        imageSize: Array.isArray(size) ? size.map(Number) : null,
        finishedAt: r.finishedAt,
      };
    });
  if (datasetId !== undefined) out.sort((a, b) => Number(b.datasetId === datasetId) - Number(a.datasetId === datasetId));
  return { needs, runs: out };
}

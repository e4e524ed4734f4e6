/**
 * From a ControlNet run id to everything a sampling job needs: the pipeline's run folders
 * (ControlNet -> its LDM parent -> the LDM's autoencoder parent), the run's dataset, its prepared
 * cache and the normalisation that dataset used, and subjects' volume paths.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { Run } from '../../shared/contract';
import { readPreparedIndex } from '../../ml/data/prepare';
import { writeFileAtomic } from '../../ml/io';
import { PIPELINE_FILE } from '../../ml/pipeline';
import type { PipelineSources } from '../../ml/pipeline';
import type { NormalisationSpec } from '../../ml/sample/volume';
import type { SubjectSliceSource } from '../../ml/sample/slice';
import { checkpointDir } from '../../ml/pipeline/checkpoint';
import { getDatasetDetail, volumeOf, type DatasetDetail, type SubjectRecord } from '../store/datasets';
import { InvalidInputError, NotFoundError } from '../errors';
import type { SamplingDeps } from './deps';

export interface ResolvedModel {
  run: Run;
  sources: PipelineSources;
  /** The ControlNet run's dataset (training data), when it still exists. */
  dataset: DatasetDetail | null;
  /** Its prepared-slice cache folder, when prepared. */
  datasetDir: string | null;
  normalisation: NormalisationSpec;
}

function parentOf(services: SamplingDeps, run: Run, role: string): Run {
  const link = run.parents.find((p) => p.role === role) ?? (run.parents.length === 1 ? run.parents[0] : undefined);
  if (!link) throw new InvalidInputError(`run ${run.id} (${run.stage}) has no ${role} parent run recorded`);
  const parent = services.runs.get(link.runId);
  if (parent.stage !== role) throw new InvalidInputError(`run ${run.id}'s parent ${parent.id} is a ${parent.stage} run, expected ${role}`);
  return parent;
}

function requireCheckpoint(services: SamplingDeps, run: Run, kind: 'last' | 'best'): string {
  const dir = services.home.runDir(run.id);
  if (!checkpointDir(dir, kind)) throw new InvalidInputError(`run ${run.id} (${run.stage}) has no '${kind}' checkpoint yet; train it first`);
  return dir;
}

/** Resolves a ControlNet run (or, with `allowLdm`, an LDM run for unconditional sampling). */
export function resolveModel(services: SamplingDeps, runId: number, opts: { checkpoint?: 'last' | 'best'; allowLdm?: boolean } = {}): ResolvedModel {
  let run: Run;
  try {
    run = services.runs.get(runId);
  } catch (err) {
    if (err instanceof NotFoundError) throw new InvalidInputError(`run ${runId} does not exist`);
    throw err;
  }
  const kind = opts.checkpoint ?? 'last';
  let sources: PipelineSources;
  if (run.stage === 'controlnet') {
    const ldm = parentOf(services, run, 'ldm');
    const ae = parentOf(services, ldm, 'autoencoder');
    sources = {
      controlnet: requireCheckpoint(services, run, kind),
      ldm: requireCheckpoint(services, ldm, 'last'),
      autoencoder: requireCheckpoint(services, ae, 'last'),
      checkpoint: kind,
    };
  } else if (run.stage === 'ldm' && opts.allowLdm) {
    const ae = parentOf(services, run, 'autoencoder');
    sources = { ldm: requireCheckpoint(services, run, kind), autoencoder: requireCheckpoint(services, ae, 'last'), checkpoint: kind };
  } else {
    throw new InvalidInputError(`run ${runId} is a ${run.stage} run; FLAIR -> T1w generation needs a trained ControlNet run`);
  }
  recordPipelineFile(sources, run.stage);
  return { run, sources, ...trainingData(services, run) };
}

/** The run's dataset, its prepared cache and the normalisation it was prepared with. */
export function trainingData(services: SamplingDeps, run: Run): Pick<ResolvedModel, 'dataset' | 'datasetDir' | 'normalisation'> {
  return preparedData(services, run.datasetId);
}

/** A dataset (id or name; null when gone), its prepared cache and the normalisation it was prepared with. */
export function preparedData(services: SamplingDeps, ref: number | string | null): Pick<ResolvedModel, 'dataset' | 'datasetDir' | 'normalisation'> {
  let dataset: DatasetDetail | null = null;
  let datasetDir: string | null = null;
  let normalisation: NormalisationSpec = { method: 'minmax', slices: 'brain-band' };
  if (ref !== null) {
    try {
      dataset = getDatasetDetail(services.store.db, ref);
    } catch {
      dataset = null;
    }
    const cache = (dataset?.prepared as { cacheDir?: string } | null | undefined)?.cacheDir;
    if (cache && existsSync(cache)) {
      const { dir, index } = readPreparedIndex(cache);
      datasetDir = dir;
      normalisation = { method: index.normalisation, percentiles: index.percentiles, slices: index.slices };
    } else if (dataset?.prepared) {
      const p = dataset.prepared as { normalisation?: 'minmax' | 'percentile'; percentiles?: [number, number] | null; slices?: string };
      normalisation = { method: p.normalisation ?? 'minmax', percentiles: p.percentiles ?? null, slices: p.slices };
    }
  }
  return { dataset, datasetDir, normalisation };
}

/** An autoencoder run: its checkpoint folder and its training data (for its evaluation). */
export function resolveAutoencoderRun(services: SamplingDeps, run: Run, kind: 'last' | 'best' = 'last'): Omit<ResolvedModel, 'sources'> & { sources: { autoencoder: string; checkpoint: 'last' | 'best' } } {
  if (run.stage !== 'autoencoder') throw new InvalidInputError(`run ${run.id} is a ${run.stage} run, not an autoencoder run`);
  return { run, sources: { autoencoder: requireCheckpoint(services, run, kind), checkpoint: kind }, ...trainingData(services, run) };
}

/**
 * Makes the run folder self-describing for loadPipeline(runDir): its parents' run folders,
 * relative to it so a moved or copied home names its own runs. A file naming other folders (one
 * written with absolute paths, then the home copied) is rewritten.
 */
function recordPipelineFile(sources: PipelineSources, stage: string): void {
  const own = stage === 'controlnet' ? sources.controlnet! : sources.ldm;
  const path = join(own, PIPELINE_FILE);
  const rel = (dir: string) => relative(own, dir).split(sep).join('/');
  const body = stage === 'controlnet' ? { stage, ldm: rel(sources.ldm), autoencoder: rel(sources.autoencoder) } : { stage, autoencoder: rel(sources.autoencoder) };
  const text = JSON.stringify(body, null, 1);
  try {
    if (existsSync(path) && readFileSync(path, 'utf8') === text) return;
    writeFileAtomic(path, new TextEncoder().encode(text));
  } catch {
    /* a convenience for scripts; sampling does not need it */
  }
}

/** A subject of a dataset by label ('sub-patient19' or 'patient19') or subject id. */
export function findSubject(detail: DatasetDetail, ref: string | number): SubjectRecord {
  const s = detail.subjects.find((x) => x.id === ref || x.label === ref || x.label === `sub-${ref}`);
  if (!s) throw new InvalidInputError(`subject ${JSON.stringify(ref)} is not in dataset "${detail.name}" (have: ${detail.subjects.map((x) => x.label).join(', ')})`);
  return s;
}

/** Volume paths of a subject for slice generation (FLAIR required; T1w and lesion mask when present). */
export function subjectSliceSource(services: SamplingDeps, datasetId: number, subject: string | number, z: number): SubjectSliceSource & { subject: SubjectRecord; dataset: DatasetDetail } {
  let dataset: DatasetDetail;
  try {
    dataset = getDatasetDetail(services.store.db, datasetId);
  } catch (err) {
    throw new InvalidInputError((err as Error).message);
  }
  const s = findSubject(dataset, subject);
  const flair = volumeOf(s, 'FLAIR');
  if (!flair) throw new InvalidInputError(`${s.label} has no FLAIR volume`);
  return { flairPath: flair.path, t1wPath: volumeOf(s, 'T1w')?.path ?? null, lesionMaskPath: volumeOf(s, 'lesion_mask')?.path ?? null, z, subject: s, dataset };
}

/** Lesion mask paths per subject label of a dataset (subjects without a mask are left out). */
export function lesionMaskPaths(detail: DatasetDetail): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of detail.subjects) {
    const m = volumeOf(s, 'lesion_mask');
    if (m) out[s.label] = m.path;
  }
  return out;
}

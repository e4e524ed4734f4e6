import type { Artefact, Dataset, EvaluationResults, EventPayload, GenerateJobView, Job, RequestOf, ResponseOf, Run } from '../../../shared/contract';
import { api, listDatasets } from './client';

/**
 * The sampling half of the renderer's API adapter (Generate view, evaluation tables), over
 * ./client's `api()`. Dataset, artefact and run calls the other views also make live in ./client
 * only; this module holds just the sampling and evaluation channels.
 */

export type GenerateSliceRequest = RequestOf<'generate.slice'>;
export type { EvaluationResults, GenerateJobView };

/** Completed ControlNet runs: what the Generate view can sample with. */
export async function listControlNetRuns(): Promise<Run[]> {
  const { runs } = await api().runs.list({ stage: 'controlnet', status: 'completed', limit: 10_000 });
  return runs;
}

export async function listDatasetsBrief(): Promise<Pick<Dataset, 'id' | 'name' | 'synthetic' | 'attribution'>[]> {
  const datasets = await listDatasets();
  return datasets.map((d) => ({ id: d.id, name: d.name, synthetic: d.synthetic, attribution: d.attribution }));
}

/** Starts one slice generation (N seeds); answers the sampling job id. */
export async function startGenerateSlice(request: GenerateSliceRequest): Promise<string> {
  return (await api().generate.slice(request)).jobId;
}

/** Starts a whole-volume translation of a dataset subject's FLAIR; the T1w NIfTI is written to the run's folder. */
export function startTranslateVolume(request: RequestOf<'generate.volume'>): Promise<ResponseOf<'generate.volume'>> {
  return api().generate.volume(request);
}

export type SliceSignalProfile = ResponseOf<'generate.sliceSignal'>;

/** How much signal each axial FLAIR slice (LAS z) of a subject holds, as generate.slice measures it. */
export function sliceSignalProfile(request: RequestOf<'generate.sliceSignal'>): Promise<SliceSignalProfile> {
  return api().generate.sliceSignal(request);
}

export function generateResult(jobId: string): Promise<GenerateJobView> {
  return api().generate.result({ jobId });
}

export function cancelGenerate(jobId: string): Promise<GenerateJobView> {
  return api().generate.cancel({ jobId });
}

/** Writes a finished slice job's panels as PNG artefacts of its ControlNet run. */
export async function saveGenerate(jobId: string): Promise<Artefact[]> {
  return (await api().generate.save({ jobId })).artefacts;
}

type JobProgress = EventPayload<'job.progress'>;

export interface SamplingProgress extends Pick<JobProgress, 'phase' | 'done' | 'total'> {
  message: NonNullable<JobProgress['message']> | null;
}

/** Live progress of one sampling job ('job.progress' carrying its job id). */
export function onSamplingProgress(jobId: string, listener: (p: SamplingProgress) => void): () => void {
  if (!window.api) return () => undefined;
  return api().on('job.progress', (p) => {
    if (p.jobId === jobId) listener({ phase: p.phase, done: p.done, total: p.total, message: p.message ?? null });
  });
}

/** State changes and progress of one job of any kind ('job.updated' carrying its job id). */
export function onJobUpdated(jobId: string, listener: (job: Job) => void): () => void {
  if (!window.api) return () => undefined;
  return api().on('job.updated', (j) => {
    if (j.jobId === jobId) listener(j);
  });
}

/** Starts an evaluation of a finished run of any stage; the answer names the new evaluation run. */
export function startEvaluation(req: RequestOf<'evaluate.start'>): Promise<ResponseOf<'evaluate.start'>> {
  return api().evaluate.start(req);
}

export function evaluationResults(runId: number, opts: { split?: string; perImage?: boolean } = {}): Promise<EvaluationResults> {
  return api().evaluate.results({ runId, ...opts });
}

export async function compareEvaluations(runIds: number[], split?: string): Promise<EvaluationResults[]> {
  return (await api().evaluate.compare({ runIds, ...(split ? { split } : {}) })).results;
}

export function evaluationCsv(runIds: number[], kind: NonNullable<RequestOf<'evaluate.exportCsv'>['kind']>, split?: string): Promise<ResponseOf<'evaluate.exportCsv'>> {
  return api().evaluate.exportCsv({ runIds, kind, ...(split ? { split } : {}) });
}

/** Sampling jobs of the answering process (queued, running and recently finished). */
export async function listSamplingJobs(): Promise<ResponseOf<'generate.jobs'>['jobs']> {
  return (await api().generate.jobs()).jobs;
}

/** Cancels any job by id (a queued one at once, a running one before its next step). */
export async function cancelJob(jobId: string): Promise<Job> {
  return api().jobs.cancelJob({ jobId });
}

import type {
  Api,
  Artefact,
  DataJob,
  Dataset,
  DatasetDetail,
  JobInfo,
  MetricSeries,
  MetricSummary,
  RequestOf,
  ResponseOf,
  Run,
  RunListItem,
  TrainingProgress,
} from '../../../shared/contract';
import type { CheckpointRow, LiveEvent, MetricSummaryRow, RunDetail, RunProgress, RunRow } from './types';

/**
 * The one place the views touch `window.api` (the shared contract's typed client, from the Electron
 * preload or the browser bridge), with ./sampling, which shares `api()`. It maps contract records
 * onto the view shapes in ./types.
 */
export function api(): Api {
  if (!window.api) throw new Error('window.api is missing: the page was opened without the Electron preload or the bridge');
  return window.api;
}

function toSummaryRow(m: MetricSummary): MetricSummaryRow {
  return {
    name: m.name,
    split: m.split,
    last: m.last.value,
    lastStep: m.last.step,
    best: m.best.value,
    bestStep: m.best.step,
    count: m.count,
    goal: m.goal,
    mean: m.mean ?? null,
  };
}

function toRunRow(run: Run, extra: { datasetName: string | null; metrics: MetricSummary[] | null }): RunRow {
  return {
    id: run.id,
    name: run.name,
    stage: run.stage,
    status: run.status,
    datasetId: run.datasetId,
    datasetName: extra.datasetName,
    backend: run.backend,
    seed: run.seed,
    error: run.error,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    updatedAt: run.updatedAt,
    parents: run.parents.map((p) => ({ id: p.runId, role: p.role })),
    notes: run.notes,
    tags: run.tags,
    summary: extra.metrics ? extra.metrics.map(toSummaryRow) : null,
  };
}

/** The whole run list, newest first. The workstation holds hundreds of runs, not millions. */
export async function listRuns(): Promise<RunRow[]> {
  const { runs } = await api().runs.list({ limit: 10_000 });
  return runs.map((r: RunListItem) => toRunRow(r, { datasetName: r.datasetName, metrics: r.metrics }));
}

export async function getRun(id: number): Promise<RunDetail> {
  const run = await api().runs.get({ id });
  let datasetName: string | null = null;
  if (run.datasetId !== null) {
    // The dataset name is a nicety: a deleted or unreadable dataset must not hide the run.
    datasetName = await api()
      .datasets.get({ id: run.datasetId })
      .then((d) => d.name)
      .catch(() => null);
  }
  return { ...toRunRow(run, { datasetName, metrics: null }), config: run.config };
}

export async function getRunSummary(runId: number): Promise<MetricSummaryRow[]> {
  const { metrics } = await api().runs.summary({ runId });
  return metrics.map(toSummaryRow);
}

export async function listCheckpoints(runId: number): Promise<CheckpointRow[]> {
  const { checkpoints } = await api().checkpoints.list({ runId });
  return checkpoints.map((c) => ({ id: c.id, kind: c.kind, step: c.step, epoch: c.epoch, path: c.path, sha256: c.sha256, createdAt: c.createdAt }));
}

/**
 * What the workstation computes on right now: the backend of the running training job, else of
 * the newest run marked running (e.g. by another process such as the CLI).
 */
export async function activeBackend(): Promise<{ backend: string; runId: number } | null> {
  const { jobs } = await api().jobs.list();
  const job = jobs.find((j) => j.state === 'running' && j.backend);
  if (job?.backend) return { backend: job.backend, runId: job.runId };
  const { runs } = await api().runs.list({ status: 'running', limit: 1 });
  const run = runs[0];
  return run && run.backend ? { backend: run.backend, runId: run.id } : null;
}

/** Live progress of a run's job, from the 'job.updated' events of the job tied to the run. */
export function onRunProgress(runId: number, listener: (progress: RunProgress) => void): () => void {
  if (!window.api) return () => undefined;
  return api().on('job.updated', (j) => {
    if (j.runId !== runId || j.state !== 'running') return;
    listener({
      phase: j.phase,
      done: j.done,
      total: j.total,
      message: j.message,
      etaSeconds: j.etaSeconds,
      epoch: j.training ? { current: j.training.epoch, total: j.training.epochs } : null,
      stepsPerSecond: j.training?.stepsPerSecond ?? null,
      backend: j.training?.backend ?? null,
    });
  });
}

/** Lines a run's training loop reports about itself (where it resumed, a plateau's anneal). */
export function onRunLog(runId: number, listener: (message: string) => void): () => void {
  if (!window.api) return () => undefined;
  return api().on('run.log', (e) => {
    if (e.runId === runId) listener(e.message);
  });
}

export async function appInfo(): Promise<{ host: string; version: string; home: string; canPickFolder: boolean }> {
  const info = await api().app.info();
  return { host: info.host, version: info.version, home: info.home, canPickFolder: info.canPickFolder };
}

/** The native folder dialog (Electron only: app.info's canPickFolder); null when cancelled or unsupported. */
export async function pickFolder(title: string, defaultPath?: string): Promise<string | null> {
  const r = await api().app.pickFolder({ title, ...(defaultPath ? { defaultPath } : {}) });
  return r.supported ? r.path : null;
}

export function onLiveEvent(listener: (event: LiveEvent) => void): () => void {
  if (!window.api) return () => undefined;
  const offRun = api().on('run.updated', ({ run }) => listener({ kind: 'run', runId: run.id }));
  const offMetrics = api().on('metrics.appended', ({ runId }) => listener({ kind: 'metrics', runId }));
  return () => {
    offRun();
    offMetrics();
  };
}

// ---------------------------------------------------------------------------------------------
// Datasets (Data view)
// ---------------------------------------------------------------------------------------------

export async function listDatasets(): Promise<Dataset[]> {
  return (await api().datasets.list()).datasets;
}

export function getDatasetDetail(id: number): Promise<DatasetDetail> {
  return api().datasets.detail({ id });
}

export function startDatasetImport(dir: string, name: string): Promise<DataJob> {
  return api().datasets.import({ dir, name });
}

export function startPhantom(subjects: number, name: string, seed?: number): Promise<DataJob> {
  return api().datasets.phantom({ subjects, name, ...(seed !== undefined ? { seed } : {}) });
}

export function startPrepare(
  id: number,
  opts: { slices?: string; fractions?: [number, number, number]; seed?: number; normalisation?: 'percentile' | 'minmax' },
): Promise<DataJob> {
  return api().datasets.prepare({ id, ...opts });
}

export async function listDataJobs(): Promise<DataJob[]> {
  return (await api().datasets.jobs()).jobs;
}

/** The dataset job kinds of the job system, as the Data view names them. */
const DATA_JOB_KINDS: Readonly<Record<string, DataJob['kind']>> = { import: 'import', phantom: 'phantom', prepare: 'prepare', fetch: 'fetch-open-ms' };

/** Dataset jobs as they change, from 'job.updated' (the one job event). */
export function onDataJob(listener: (job: DataJob) => void): () => void {
  if (!window.api) return () => undefined;
  return api().on('job.updated', (j) => {
    const kind = DATA_JOB_KINDS[j.kind];
    if (!kind) return;
    listener({
      jobId: j.jobId,
      kind,
      label: j.label,
      state: j.state,
      phase: j.state === 'completed' ? 'done' : j.phase,
      done: j.done,
      total: j.total,
      datasetId: j.datasetId,
      error: j.error,
      createdAt: j.createdAt,
      finishedAt: j.finishedAt,
    });
  });
}

export function onDatasetUpdated(listener: (datasetId: number) => void): () => void {
  if (!window.api) return () => undefined;
  return api().on('dataset.updated', ({ datasetId }) => listener(datasetId));
}

/**
 * Where NiiVue fetches a volume: Electron's app:// URL, or the bridge's /volumes path with the
 * page's token as a bearer header (so the URL keeps ending in the file name NiiVue reads).
 */
export async function volumeSource(volumeId: number): Promise<{ url: string; name: string; headers: Record<string, string> }> {
  const r = await api().datasets.volumeUrl({ volumeId });
  const url = new URL(r.url, location.href).toString();
  const token = new URLSearchParams(location.search).get('token');
  return { url, name: r.fileName, headers: r.needsToken && token ? { Authorization: `Bearer ${token}` } : {} };
}

// ---------------------------------------------------------------------------------------------
// Training (Train view)
// ---------------------------------------------------------------------------------------------

export type TrainRequest = RequestOf<'jobs.start'>;
export type TrainFormAnswer = ResponseOf<'train.validate'>;
export type ParentCandidate = ResponseOf<'train.parents'>['runs'][number];

/** The config a start request would train with, the reference values, and the back end's refusal. */
export function validateTraining(req: RequestOf<'train.validate'>): Promise<TrainFormAnswer> {
  return api().train.validate(req);
}

export type TrainEstimate = ResponseOf<'train.estimate'>;

/** Times a few real steps of what this request would train (a job on the compute lane) and projects the run. */
export function estimateTraining(req: RequestOf<'train.estimate'>): Promise<TrainEstimate> {
  return api().train.estimate(req);
}

/** Whether a compute job (training, sampling, an estimate) is queued or running: a new estimate would wait for it. */
export async function computeLaneBusy(): Promise<boolean> {
  const { jobs } = await api().jobs.all();
  return jobs.some((j) => j.lane === 'compute' && (j.state === 'queued' || j.state === 'running'));
}

/** Cancels estimate jobs still queued or running (a started run makes them moot and would wait behind them). */
export async function cancelEstimates(): Promise<void> {
  const { jobs } = await api().jobs.all();
  const pending = jobs.filter((j) => j.kind === 'estimate' && (j.state === 'queued' || j.state === 'running'));
  await Promise.all(pending.map((j) => api().jobs.cancelJob({ jobId: j.jobId }).catch(() => undefined)));
}

/** Progress of running estimate jobs ("timing 2/4"). */
export function onEstimateProgress(listener: (p: { phase: string; done: number; total: number | null }) => void): () => void {
  if (!window.api) return () => undefined;
  return api().on('job.updated', (j) => {
    if (j.kind === 'estimate' && j.state === 'running') listener({ phase: j.phase, done: j.done, total: j.total });
  });
}

export function trainParents(stage: TrainRequest['stage'], datasetId?: number): Promise<ResponseOf<'train.parents'>> {
  return api().train.parents({ stage, ...(datasetId !== undefined ? { datasetId } : {}) });
}

export function startTraining(req: TrainRequest): Promise<Run> {
  return api().jobs.start(req);
}

export function cancelTraining(runId: number): Promise<Run> {
  return api().jobs.cancel({ id: runId });
}

export function resumeTraining(runId: number): Promise<Run> {
  return api().jobs.resume({ id: runId });
}

export async function listTrainJobs(): Promise<JobInfo[]> {
  return (await api().jobs.list()).jobs;
}

/** Metric series of a run; `maxPoints` downsamples each (min/max per bucket) on the back end. */
export async function queryMetrics(runId: number, opts: { fromStep?: number; maxPoints?: number; names?: string[] } = {}): Promise<MetricSeries[]> {
  return (await api().metrics.query({ runId, ...opts })).series;
}

/** New metric points were stored for a run (their values come from queryMetrics). */
export function onMetricsAppended(listener: (e: { runId: number; lastStep: number; names: string[] }) => void): () => void {
  if (!window.api) return () => undefined;
  return api().on('metrics.appended', (e) => listener({ runId: e.runId, lastStep: e.lastStep, names: e.names }));
}

export function onRunUpdated(listener: (run: Run) => void): () => void {
  if (!window.api) return () => undefined;
  return api().on('run.updated', ({ run }) => listener(run));
}

export async function listRunArtefacts(runId: number, kind?: string): Promise<Artefact[]> {
  return (await api().artefacts.list({ runId, ...(kind ? { kind } : {}) })).artefacts;
}

/**
 * An image artefact as a data: URL (the renderer never reads files itself). Read through
 * generate.artefactData, which serves only files inside the home's runs folder.
 */
export async function artefactDataUrl(id: number): Promise<string> {
  const file = await api().generate.artefactData({ artefactId: id });
  if (file.mime !== 'image/png') throw new Error(`artefact ${id} (${file.fileName}) is not a PNG image`);
  return file.dataUrl;
}

/**
 * A run's NIfTI artefact (a translated volume) as a source the NiiVue decoder fetches: a data URL
 * from generate.artefactData, which serves only files inside the home's runs folder.
 */
export async function artefactVolumeSource(id: number): Promise<{ url: string; name: string; headers: Record<string, string> }> {
  const file = await api().generate.artefactData({ artefactId: id });
  if (!/\.nii(\.gz)?$/i.test(file.fileName)) throw new Error(`artefact ${id} (${file.fileName}) is not a NIfTI volume`);
  return { url: file.dataUrl, name: file.fileName, headers: {} };
}

export function startFetchOpenMs(opts: { name?: string; subjects?: string[] } = {}): Promise<DataJob> {
  return api().datasets.fetchOpenMs(opts);
}

/** The training detail (losses, memory) of a run's job, from its 'job.updated' events, for the Train view. */
export function onTrainingDetail(runId: number, listener: (training: TrainingProgress) => void): () => void {
  if (!window.api) return () => undefined;
  return api().on('job.updated', (j) => {
    if (j.runId === runId && j.training) listener(j.training);
  });
}

// ---------------------------------------------------------------------------------------------
// Run housekeeping (run page)
// ---------------------------------------------------------------------------------------------

export async function renameRun(id: number, name: string | null): Promise<void> {
  await api().runs.update({ id, name });
}

/** Sets a run's notes and/or replaces its tags (the back end normalises them); answers what was stored. */
export async function annotateRun(id: number, changes: { notes?: string; tags?: string[] }): Promise<{ notes: string; tags: string[] }> {
  const run = await api().runs.update({ id, ...changes });
  return { notes: run.notes, tags: run.tags };
}

/** Deletes the run with its rows and folder (refused while it runs or has child runs). */
export async function deleteRun(id: number): Promise<void> {
  await api().runs.delete({ id });
}

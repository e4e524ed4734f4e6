import { randomUUID } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, rmdirSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { Run } from '../../shared/contract';
import { readSafetensors, writeFileAtomic } from '../../ml/io';
import { checkpointDir, loadCheckpoint } from '../../ml/pipeline/checkpoint';
import type { TrainConfig, TrainPreset } from '../../ml/train/config';
import type { TrainStage } from '../../ml/train/session';
import type { ParentRunInfo } from '../../ml/train/validate';
import type { ClusterDeps } from './deps';
import { exportDatasetPng } from '../data/datasets';
import { InvalidInputError, NotFoundError } from '../errors';
import { preparedDatasetDir } from '../data/prepared-dir';
import { JOB_FORMAT, JOB_VERSION, type ClusterJobManifest } from './manifest';
import { CLUSTER_TEMPLATE_FILES, clusterTemplatesDir } from './resources';

/**
 * `brainsynth cluster export`: a self-contained job folder for one stage. The config is built and
 * validated exactly as a local run's (same builder, same refusals); the folder is assembled next to
 * its destination and renamed into place, so an interrupted export leaves nothing half-written.
 */

export interface ClusterExportRequest {
  stage: TrainStage;
  /** Dataset id or name. */
  dataset: number | string;
  preset: TrainPreset;
  parentRunId?: number;
  epochs?: number;
  seed?: number;
  overrides?: string[];
  name?: string;
  /** Destination folder: must not exist yet, or be empty. */
  outDir: string;
  onProgress?: (message: string) => void;
}

export interface ClusterExportResult {
  dir: string;
  manifest: ClusterJobManifest;
  /** Files in the folder, relative, sorted (data PNGs summarised). */
  files: string[];
  /** How to start it on one machine with two CPU processes, and with every GPU. */
  commands: { cpu: string; gpus: string; slurm: string };
}

function resolveDataset(services: ClusterDeps, ref: number | string): { id: number; name: string } {
  const all = services.datasets.list() as { id: number; name: string }[];
  const found = all.find((d) => d.id === Number(ref) || d.name === String(ref));
  if (!found) throw new InvalidInputError(`unknown dataset ${JSON.stringify(ref)} (see \`brainsynth data list\`)`);
  return { id: found.id, name: found.name };
}

function requireRun(services: ClusterDeps, id: number, what: string): Run {
  try {
    return services.runs.get(id);
  } catch (err) {
    if (err instanceof NotFoundError) throw new InvalidInputError(`${what} ${id} does not exist`);
    throw err;
  }
}

/** A run's parent folders by role (an LDM run's autoencoder is its own parent). */
function parentDirsOf(services: ClusterDeps, run: Run): ParentRunInfo['parentDirs'] {
  const p = run.parents[0]?.runId;
  if (p === undefined) return {};
  const parent = services.runs.get(p);
  if (parent.stage === 'autoencoder') return { autoencoder: services.home.runDir(p) };
  if (parent.stage === 'ldm') return { ldm: services.home.runDir(p), ...parentDirsOf(services, parent) };
  return {};
}

function parentInfo(services: ClusterDeps, runId: number): ParentRunInfo {
  const run = requireRun(services, runId, 'parent run');
  const dir = services.home.runDir(runId);
  return {
    runId,
    stage: run.stage,
    status: run.status,
    config: run.config as unknown as TrainConfig,
    hasCheckpoint: checkpointDir(dir, 'last') !== null,
    runDir: dir,
    parentDirs: parentDirsOf(services, run),
  };
}

/** Copies a parent's last checkpoint (verified) into parents/<role>/ with its config. */
function copyParent(services: ClusterDeps, runId: number, role: 'autoencoder' | 'ldm', into: string) {
  const run = services.runs.get(runId);
  const dir = checkpointDir(services.home.runDir(runId), 'last');
  if (!dir) throw new InvalidInputError(`parent run ${runId} has no checkpoint`);
  const ckpt = loadCheckpoint(dir);
  const target = join(into, 'parents', role);
  mkdirSync(target, { recursive: true });
  copyFileSync(join(dir, 'model.safetensors'), join(target, 'model.safetensors'));
  if (existsSync(join(dir, 'context.safetensors'))) copyFileSync(join(dir, 'context.safetensors'), join(target, 'context.safetensors'));
  const scale = ckpt.state.get('latent_scale')?.data[0];
  const info = {
    runId,
    stage: run.stage,
    name: run.name,
    step: ckpt.meta.step,
    sha256: ckpt.meta.files['model.safetensors']?.sha256 ?? '',
    ...(scale !== undefined ? { latentScale: scale } : {}),
    config: ckpt.meta.config,
  };
  writeFileAtomic(join(target, 'parent.json'), Buffer.from(JSON.stringify(info, null, 1)));
  return { runId, stage: role, name: run.name, sha256: info.sha256 };
}

/** A setting the cluster script does not implement, so the job would silently train something else; else null. */
export function clusterConfigProblem(config: TrainConfig): string | null {
  const section = config.stage === 'ldm' ? config.ldm : config.stage === 'controlnet' ? config.controlnet : undefined;
  if (section?.emaDecay != null) return `${config.stage}.emaDecay: the cluster script does not keep a weight average; set it to null for a cluster job`;
  return null;
}

/** TSV rows name absolute PNG paths (as the reference's lists); point them at the final folder. */
function retargetTsv(dataDir: string, from: string, to: string): void {
  for (const split of ['train', 'validation', 'test']) {
    const path = join(dataDir, `${split}.tsv`);
    const text = readFileSync(path, 'utf8');
    writeFileAtomic(path, Buffer.from(text.split(from).join(to)));
  }
}

function listFiles(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(root, rel)).sort()) {
    const p = rel ? `${rel}/${entry}` : entry;
    if (statSync(join(root, p)).isDirectory()) out.push(...listFiles(root, p));
    else out.push(p);
  }
  return out;
}

export async function exportClusterJob(services: ClusterDeps, req: ClusterExportRequest): Promise<ClusterExportResult> {
  const { buildTrainConfig, resolvePerceptual, validateTrainConfig } = await import('../../ml/train/validate');
  const out = resolve(req.outDir);
  if (existsSync(out) && (!statSync(out).isDirectory() || readdirSync(out).length > 0)) {
    throw new InvalidInputError(`${out}: already exists and is not an empty folder (choose a new folder for the job)`);
  }
  const dataset = resolveDataset(services, req.dataset);
  let datasetDir: string | null;
  try {
    datasetDir = preparedDatasetDir(services, dataset.id).dir;
  } catch {
    datasetDir = null;
  }
  if (!datasetDir) throw new InvalidInputError(`dataset ${dataset.id} (${dataset.name}) has no prepared slices; run \`brainsynth data prepare --dataset ${dataset.id}\` first`);
  const parent = req.parentRunId !== undefined ? parentInfo(services, req.parentRunId) : undefined;
  let config: TrainConfig;
  try {
    config = buildTrainConfig({ stage: req.stage, preset: req.preset, epochs: req.epochs, seed: req.seed, overrides: req.overrides ?? [], parent });
    validateTrainConfig(config, { parent, datasetDir });
    config = await resolvePerceptual(config);
  } catch (err) {
    throw new InvalidInputError((err as Error).message);
  }
  const unsupported = clusterConfigProblem(config);
  if (unsupported) throw new InvalidInputError(unsupported);
  if (config.stage === 'ldm' && config.ldm?.contextFile) {
    // The script reads a fixed context from the job folder; the path on this machine means nothing there.
    readSafetensors(config.ldm.contextFile);
  }

  mkdirSync(dirname(out), { recursive: true });
  const staging = join(dirname(out), `.${basename(out)}.partial-${process.pid}-${Date.now()}`);
  mkdirSync(staging, { recursive: true });
  try {
    req.onProgress?.('exporting slices (PNG + TSV)');
    const data = await exportDatasetPng(services.store, dataset.id, join(staging, 'data'));
    retargetTsv(join(staging, 'data'), join(staging, 'data'), join(out, 'data'));
    const parents: ClusterJobManifest['parents'] = {};
    let direct: ClusterJobManifest['parent'] = null;
    if (parent) {
      req.onProgress?.('copying parent weights');
      const role = parent.stage as 'autoencoder' | 'ldm';
      const copied = copyParent(services, parent.runId, role, staging);
      direct = copied;
      parents[role] = copied;
      if (parent.stage === 'ldm') {
        const grand = services.runs.get(parent.runId).parents[0]?.runId;
        if (grand === undefined) throw new InvalidInputError(`parent run ${parent.runId} has no autoencoder parent recorded`);
        parents.autoencoder = copyParent(services, grand, 'autoencoder', staging);
      }
    }
    if (config.stage === 'ldm' && config.ldm?.contextFile) {
      copyFileSync(config.ldm.contextFile, join(staging, 'context.safetensors'));
    }
    const templates = clusterTemplatesDir();
    for (const f of CLUSTER_TEMPLATE_FILES) {
      copyFileSync(join(templates, f), join(staging, f));
      if (f.endsWith('.sh') || f.endsWith('.py') || f.endsWith('.sbatch')) chmodSync(join(staging, f), 0o755);
    }
    const manifest: ClusterJobManifest = {
      format: JOB_FORMAT,
      version: JOB_VERSION,
      jobId: randomUUID(),
      name: req.name ?? `${req.stage} ${req.preset} on ${dataset.name} (cluster)`,
      stage: req.stage,
      preset: req.preset,
      config: config as unknown as ClusterJobManifest['config'],
      dataset,
      parent: direct,
      parents,
      data: { exportRoot: join(out, 'data'), rows: data.rows },
      exportedAt: new Date().toISOString(),
      exportedFrom: hostname(),
    };
    writeFileAtomic(join(staging, 'job.json'), Buffer.from(JSON.stringify(manifest, null, 1)));
    if (existsSync(out)) rmdirSync(out);
    renameSync(staging, out);
    const files = listFiles(out);
    return {
      dir: out,
      manifest,
      files,
      commands: {
        cpu: `NPROC_PER_NODE=2 ${join(out, 'launch.sh')} --max-steps 5`,
        gpus: join(out, 'launch.sh'),
        slurm: `cd ${out} && sbatch slurm.sbatch`,
      },
    };
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
}

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * The job folder `brainsynth cluster export` writes and `cluster import` reads back:
 *   job.json                 this manifest (run config, dataset, parent lineage, provenance)
 *   data/                    the prepared slices as PNG + TSV (the reference's layout)
 *   parents/<role>/          parent weights: model.safetensors (+ context.safetensors) and parent.json
 *   train.py launch.sh slurm.sbatch README.md
 *   output/                  written by train.py: metrics.jsonl, checkpoints/, status.json
 */

export const JOB_FORMAT = 'brainsynth-cluster-job';
export const JOB_VERSION = 1;
export const CLUSTER_CHECKPOINT_FORMAT = 'brainsynth-cluster-checkpoint';

const stage = z.enum(['autoencoder', 'ldm', 'controlnet']);

export const parentRefSchema = z.object({ runId: z.number().int(), stage, name: z.string().nullable(), sha256: z.string() });

export const manifestSchema = z.object({
  format: z.literal(JOB_FORMAT),
  version: z.number().int().max(JOB_VERSION),
  jobId: z.string().min(8),
  name: z.string(),
  stage,
  preset: z.enum(['desktop', 'reference']),
  config: z.looseObject({ stage, loop: z.looseObject({ seed: z.number() }) }),
  dataset: z.object({ id: z.number().int(), name: z.string() }),
  /** The direct parent run (the autoencoder of an LDM, the LDM of a ControlNet). */
  parent: parentRefSchema.nullable(),
  /** Every parent whose weights travel in parents/<role>/. */
  parents: z.object({ autoencoder: parentRefSchema.optional(), ldm: parentRefSchema.optional() }),
  data: z.object({ exportRoot: z.string(), rows: z.object({ train: z.number(), validation: z.number(), test: z.number() }) }),
  exportedAt: z.string(),
  exportedFrom: z.string(),
});
export type ClusterJobManifest = z.infer<typeof manifestSchema>;

export const statusSchema = z.looseObject({
  state: z.enum(['running', 'completed', 'failed']),
  stage: stage.optional(),
  jobId: z.string().optional(),
  worldSize: z.number().int().optional(),
  backend: z.string().optional(),
  device: z.string().optional(),
  host: z.string().optional(),
  step: z.number().optional(),
  totalSteps: z.number().nullable().optional(),
  error: z.string().nullable().optional(),
  versions: z.record(z.string(), z.string()).optional(),
});
export type ClusterStatus = z.infer<typeof statusSchema>;

export const checkpointMetaSchema = z.looseObject({
  format: z.literal(CLUSTER_CHECKPOINT_FORMAT),
  stage,
  step: z.number().int().nonnegative(),
  epoch: z.number().int().nonnegative(),
  files: z.record(z.string(), z.object({ sha256: z.string(), bytes: z.number() })),
  latentScale: z.number().optional(),
  bestValLoss: z.number().nullable().optional(),
});
export type ClusterCheckpointMeta = z.infer<typeof checkpointMetaSchema>;

function describe(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/** Reads and checks a JSON file against a schema; every problem names the file. */
export function readJsonFile<T>(path: string, schema: z.ZodType<T>, what: string): T {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: cannot read ${what} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new Error(`${path}: not a valid ${what} (${describe(parsed.error)})`);
  return parsed.data;
}

/** The manifest of a job folder; a folder without one, or with someone else's, is refused. */
export function readManifest(dir: string): ClusterJobManifest {
  const path = join(dir, 'job.json');
  if (!existsSync(dir)) throw new Error(`${dir}: no such folder`);
  if (!existsSync(path)) throw new Error(`${dir}: not a brainsynth cluster job folder (no job.json; make one with \`brainsynth cluster export\`)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: not JSON (${(err as Error).message})`);
  }
  const format = (raw as { format?: unknown } | null)?.format;
  if (format !== JOB_FORMAT) throw new Error(`${path}: not a brainsynth cluster job (format is ${JSON.stringify(format ?? null)}, expected "${JOB_FORMAT}")`);
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${path}: damaged cluster job manifest (${describe(parsed.error)})`);
  return parsed.data;
}

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Files of resources/cluster/ that every job folder gets. */
export const CLUSTER_TEMPLATE_FILES = ['train.py', 'launch.sh', 'slurm.sbatch', 'README.md'] as const;

/**
 * Where the shipped cluster templates are: $BRAINSYNTH_RESOURCES, the packaged app's resources
 * folder, or the repository's resources/ found by walking up from this module (source or bundle).
 */
export function clusterTemplatesDir(): string {
  const candidates: string[] = [];
  if (process.env.BRAINSYNTH_RESOURCES) candidates.push(join(process.env.BRAINSYNTH_RESOURCES, 'cluster'));
  const packaged = (process as { resourcesPath?: string }).resourcesPath;
  if (packaged) candidates.push(join(packaged, 'cluster'), join(packaged, 'resources', 'cluster'));
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    candidates.push(join(dir, 'resources', 'cluster'));
    dir = dirname(dir);
  }
  const found = candidates.find((c) => existsSync(join(c, 'train.py')));
  if (!found) throw new Error(`cluster job templates not found (looked in ${candidates.join(', ')})`);
  return found;
}

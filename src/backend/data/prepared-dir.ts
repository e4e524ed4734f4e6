import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Dataset } from '../../shared/contract';
import type { HomeLayout } from '../home';

export interface PreparedDirDeps {
  datasets: { get(id: number): Dataset };
  home: Pick<HomeLayout, 'datasetDir'>;
}

/**
 * Where a dataset's prepared slices live: the first of its recorded cache folders (or the home's
 * dataset folder) holding index.json directly or under prepared/; dir is null when it has none.
 * Throws (the store's NotFoundError) for an unknown dataset; callers word their own refusals.
 */
export function preparedDatasetDir(s: PreparedDirDeps, datasetId: number): { name: string; dir: string | null } {
  const dataset = s.datasets.get(datasetId);
  const prepared = dataset.prepared ?? {};
  const candidates = [prepared.cachePath, prepared.cacheDir, prepared.cache, prepared.path]
    .filter((v): v is string => typeof v === 'string')
    .concat([s.home.datasetDir(datasetId)]);
  const dir = candidates.find((d) => existsSync(join(d, 'index.json')) || existsSync(join(d, 'prepared', 'index.json'))) ?? null;
  return { name: dataset.name, dir };
}

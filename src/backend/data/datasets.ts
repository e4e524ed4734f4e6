/**
 * Dataset service: import (BIDS folder or explicit pairs), synthetic phantom, open MS download,
 * slice preparation, reference PNG/TSV export, listing and deletion. Every function takes the
 * store (A's openStore result or anything with a better-sqlite3 `db`) and, where files are
 * written, the home layout (homeLayout(root) from ./home).
 *
 * Where files live:
 *  - imported datasets: volumes stay where the user keeps them (absolute path + sha256 recorded;
 *    prepare refuses files that changed since import);
 *  - phantom and downloaded datasets: home/datasets/<id>/sub-.../anat/... (brainsynth made them);
 *  - every prepared slice cache: home/datasets/<id>/prepared/{index.json,slices.bin}
 *    (read with loadPreparedSlices(dataset.prepared.cacheDir, {split, size}) from src/ml/data/prepare).
 */
import { existsSync, rmSync } from 'node:fs';
import type { StoreHandle } from './importer';
import { deleteDatasetRow, requireDataset } from '../store/datasets';

export { importDataset, DatasetImportError, type ImportOptions, type StoreHandle } from './importer';
export { prepareDataset, exportDatasetPng, type PrepareDatasetOptions, type PreparedDatasetResult, type ExportPngResult } from './prepare';
export { createPhantomDataset, fetchOpenMsDataset, OPEN_MS_DEFAULT_NAME, type PhantomDatasetOptions, type FetchOpenMsOptions, type HomeDirs } from './sources';
export {
  listDatasets,
  findDataset,
  requireDataset,
  getDatasetDetail,
  volumeOf,
  type DatasetSummary,
  type DatasetDetail,
  type SubjectRecord,
  type VolumeRecord,
  type PreparedInfo,
  type DatasetKind,
  type VolumeModality,
} from '../store/datasets';

/**
 * Deletes a dataset's rows (subjects and volumes cascade) and its home/datasets/<id>/ folder.
 * Files of an imported dataset outside home are never touched.
 */
export function deleteDataset(store: StoreHandle, home: { datasetDir(id: number): string }, ref: string | number): void {
  const d = requireDataset(store.db, ref);
  deleteDatasetRow(store.db, d.id);
  const dir = home.datasetDir(d.id);
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
}

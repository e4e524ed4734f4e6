import type { Dataset } from '../../shared/contract';
import type { Store } from '.';
import { NotFoundError } from '../errors';
import { datasetById, listDatasets as listDatasetRecords, type DatasetSummary } from './datasets';

/**
 * Read-only view of the datasets table for listings (Experiments view, `datasets.list`), in the
 * IPC contract's shape. The rows are read by the dataset service's records module, so both
 * views of the table cannot drift apart.
 */
const toDataset = (d: DatasetSummary): Dataset => ({ ...d, prepared: d.prepared as unknown as Dataset['prepared'] });

export function listDatasets(store: Store): Dataset[] {
  return listDatasetRecords(store.db).map(toDataset);
}

export function getDataset(store: Store, id: number): Dataset {
  const found = datasetById(store.db, id);
  if (!found) throw new NotFoundError(`dataset ${id} does not exist`);
  return toDataset(found);
}

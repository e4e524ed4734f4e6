import type { Dataset } from '../../../shared/contract';
import type { Store } from '.';
import { NotFoundError } from '../errors';
import { parseJsonArray, parseJsonObject } from '../json';

/**
 * Read-only view of the datasets table for listings (Experiments view, `datasets.list`).
 * Importing and preparing datasets is the dataset service's job (src/main/services/datasets*.ts).
 */
interface DatasetRow {
  id: number;
  name: string;
  kind: Dataset['kind'];
  source: string | null;
  attribution: string | null;
  synthetic: number;
  grid: string | null;
  normalisation: string | null;
  prepared: string | null;
  warnings: string;
  created_at: string;
  subject_count: number;
  volume_count: number;
}

const SELECT = `SELECT d.*,
  (SELECT count(*) FROM subjects s WHERE s.dataset_id = d.id) AS subject_count,
  (SELECT count(*) FROM volumes v JOIN subjects s ON s.id = v.subject_id WHERE s.dataset_id = d.id) AS volume_count
  FROM datasets d`;

function toDataset(r: DatasetRow): Dataset {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    source: r.source,
    attribution: r.attribution,
    synthetic: r.synthetic !== 0,
    grid: r.grid,
    normalisation: r.normalisation,
    prepared: r.prepared ? parseJsonObject(r.prepared) : null,
    warnings: parseJsonArray(r.warnings).map(String),
    createdAt: r.created_at,
    subjectCount: r.subject_count,
    volumeCount: r.volume_count,
  };
}

export function listDatasets(store: Store): Dataset[] {
  return (store.db.prepare(`${SELECT} ORDER BY d.id`).all() as DatasetRow[]).map(toDataset);
}

export function getDataset(store: Store, id: number): Dataset {
  const row = store.db.prepare(`${SELECT} WHERE d.id = ?`).get(id) as DatasetRow | undefined;
  if (!row) throw new NotFoundError(`dataset ${id} does not exist`);
  return toDataset(row);
}

/**
 * The Data view's dataset detail: subjects with their split, volumes (grid, orientation, checks;
 * file names only, paths stay in main) and the axial indices of each subject's prepared slices.
 */
import { basename } from 'node:path';
import type Database from 'better-sqlite3';
import type { DatasetDetail } from '../../shared/contract';
import { readPreparedIndex } from '../../ml/data/prepare';
import { findDataset, getDatasetDetail } from '../store/datasets';
import { NotFoundError } from '../errors';

/** Prepared z per subject label (+ session), from the cache's index.json; empty when unreadable. */
function preparedZs(cacheDir: string | undefined): Map<string, number[]> {
  const out = new Map<string, number[]>();
  if (!cacheDir) return out;
  let records: { subject: string; session: string | null; z: number }[];
  try {
    records = readPreparedIndex(cacheDir).index.records;
  } catch {
    return out; // a missing cache reads as "not prepared", the list still shows the summary
  }
  for (const r of records) {
    const key = `${r.subject}/${r.session ?? ''}`;
    const zs = out.get(key) ?? [];
    zs.push(r.z);
    out.set(key, zs);
  }
  for (const zs of out.values()) zs.sort((a, b) => a - b);
  return out;
}

export function datasetDetail(db: Database.Database, id: number): DatasetDetail {
  if (!findDataset(db, id)) throw new NotFoundError(`dataset ${id} does not exist`);
  const d = getDatasetDetail(db, id);
  const zs = d.prepared ? preparedZs(d.prepared.cacheDir) : new Map<string, number[]>();
  return {
    id: d.id,
    name: d.name,
    kind: d.kind,
    source: d.source,
    attribution: d.attribution,
    synthetic: d.synthetic,
    grid: d.grid,
    normalisation: d.normalisation,
    prepared: d.prepared ? { ...d.prepared } : null,
    warnings: d.warnings,
    createdAt: d.createdAt,
    subjectCount: d.subjectCount,
    volumeCount: d.volumeCount,
    subjects: d.subjects.map((s) => ({
      id: s.id,
      label: s.label,
      session: s.session,
      split: s.split,
      preparedZs: d.prepared ? (zs.get(`${s.label}/${s.session ?? ''}`) ?? []) : null,
      volumes: s.volumes.map((v) => ({
        id: v.id,
        modality: v.modality,
        fileName: basename(v.path),
        dims: [...v.dims],
        pixdim: [...v.pixdim],
        affine: v.affine.map((row) => [...row]),
        orientation: v.orientation,
        datatype: v.datatype,
        checks: v.checks,
      })),
    })),
  };
}

/**
 * Dataset rows as the rest of the app sees them (JSON columns parsed), and the queries behind
 * `data list`, the Data view and the trainers' dataset lookup.
 */
import type Database from 'better-sqlite3';
import type { Affine } from '../../ml/data/orientation';
import type { SplitName } from '../../ml/data/split';
import { parseJsonArray, parseJsonObject } from './json';
import { fromStoredPath, homeRootOfDb, toStoredPath } from '../home-paths';

export type DatasetKind = 'imported' | 'phantom' | 'downloaded';
export type VolumeModality = 'FLAIR' | 'T1w' | 'lesion_mask' | 'brain_mask';

export interface PreparedInfo {
  slices: string;
  normalisation: 'minmax' | 'percentile';
  percentiles: [number, number] | null;
  fractions: [number, number, number];
  seed: number;
  pinned: Record<string, SplitName>;
  /** Absolute folder holding index.json + slices.bin (pass to loadPreparedSlices). */
  cacheDir: string;
  counts: Record<SplitName, number>;
  subjects: Record<SplitName, number>;
  createdAt: string;
}

export interface DatasetSummary {
  id: number;
  name: string;
  kind: DatasetKind;
  source: string | null;
  attribution: string | null;
  synthetic: boolean;
  grid: string | null;
  normalisation: string | null;
  prepared: PreparedInfo | null;
  warnings: string[];
  createdAt: string;
  subjectCount: number;
  volumeCount: number;
}

export interface VolumeRecord {
  id: number;
  modality: VolumeModality;
  path: string;
  dims: [number, number, number];
  pixdim: [number, number, number];
  affine: Affine;
  orientation: string | null;
  datatype: string | null;
  sha256: string | null;
  checks: Record<string, unknown>;
}

export interface SubjectRecord {
  id: number;
  label: string;
  session: string | null;
  split: SplitName | null;
  volumes: VolumeRecord[];
}

export interface DatasetDetail extends DatasetSummary {
  subjects: SubjectRecord[];
}

interface DatasetRow {
  id: number;
  name: string;
  kind: DatasetKind;
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

const SUMMARY_SQL = `
SELECT d.*,
  (SELECT COUNT(*) FROM subjects s WHERE s.dataset_id = d.id) AS subject_count,
  (SELECT COUNT(*) FROM volumes v JOIN subjects s ON v.subject_id = s.id WHERE s.dataset_id = d.id) AS volume_count
FROM datasets d`;

// Defensive parses (here and for warnings): one bad row cannot take a whole listing down.
function preparedOf(text: string | null, homeRoot: string | undefined): PreparedInfo | null {
  const info = parseJsonObject(text);
  if (typeof info.cacheDir === 'string') info.cacheDir = fromStoredPath(homeRoot, info.cacheDir);
  return Object.keys(info).length > 0 ? (info as unknown as PreparedInfo) : null;
}

function toSummary(row: DatasetRow, homeRoot: string | undefined): DatasetSummary {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    source: row.source,
    attribution: row.attribution,
    synthetic: row.synthetic !== 0,
    grid: row.grid,
    normalisation: row.normalisation,
    prepared: preparedOf(row.prepared, homeRoot),
    warnings: parseJsonArray(row.warnings).map(String),
    createdAt: row.created_at,
    subjectCount: row.subject_count,
    volumeCount: row.volume_count,
  };
}

export function listDatasets(db: Database.Database): DatasetSummary[] {
  const root = homeRootOfDb(db);
  return (db.prepare(`${SUMMARY_SQL} ORDER BY d.id`).all() as DatasetRow[]).map((row) => toSummary(row, root));
}

/** A dataset by its id; undefined when absent. */
export function datasetById(db: Database.Database, id: number): DatasetSummary | undefined {
  const row = db.prepare(`${SUMMARY_SQL} WHERE d.id = ?`).get(id) as DatasetRow | undefined;
  return row ? toSummary(row, homeRootOfDb(db)) : undefined;
}

export function datasetByName(db: Database.Database, name: string): DatasetSummary | undefined {
  const row = db.prepare(`${SUMMARY_SQL} WHERE d.name = ?`).get(name) as DatasetRow | undefined;
  return row ? toSummary(row, homeRootOfDb(db)) : undefined;
}

/** A dataset by id (number or digits) or name; undefined when absent. */
export function findDataset(db: Database.Database, ref: string | number): DatasetSummary | undefined {
  const byId = typeof ref === 'number' || /^\d+$/.test(ref) ? datasetById(db, Number(ref)) : undefined;
  return byId ?? datasetByName(db, String(ref));
}

export function requireDataset(db: Database.Database, ref: string | number): DatasetSummary {
  const found = findDataset(db, ref);
  if (!found) {
    const names = listDatasets(db).map((d) => d.name);
    throw new Error(`dataset "${ref}" not found${names.length ? ` (have: ${names.join(', ')})` : ' (no datasets yet: data import, data phantom or data fetch open-ms)'}`);
  }
  return found;
}

/** Dataset with its subjects (sorted by label, session) and their volumes. */
export function getDatasetDetail(db: Database.Database, ref: string | number): DatasetDetail {
  const summary = requireDataset(db, ref);
  const subjects = db
    .prepare('SELECT id, label, session, split FROM subjects WHERE dataset_id = ? ORDER BY label, session')
    .all(summary.id) as { id: number; label: string; session: string | null; split: SplitName | null }[];
  const volumeStmt = db.prepare('SELECT * FROM volumes WHERE subject_id = ? ORDER BY modality');
  const root = homeRootOfDb(db);
  return {
    ...summary,
    subjects: subjects.map((s) => ({
      ...s,
      volumes: (volumeStmt.all(s.id) as Record<string, unknown>[]).map((v) => ({
        id: v.id as number,
        modality: v.modality as VolumeModality,
        path: fromStoredPath(root, v.path as string),
        dims: JSON.parse(v.dims as string),
        pixdim: JSON.parse(v.pixdim as string),
        affine: JSON.parse(v.affine as string),
        orientation: (v.orientation as string | null) ?? null,
        datatype: (v.datatype as string | null) ?? null,
        sha256: (v.sha256 as string | null) ?? null,
        checks: JSON.parse(v.checks as string),
      })),
    })),
  };
}

export function volumeOf(subject: SubjectRecord, modality: VolumeModality): VolumeRecord | undefined {
  return subject.volumes.find((v) => v.modality === modality);
}

export function datasetNameTaken(db: Database.Database, name: string): boolean {
  return db.prepare('SELECT 1 FROM datasets WHERE name = ?').get(name) !== undefined;
}

/** Deletes a dataset's row; its subjects and volumes cascade. */
export function deleteDatasetRow(db: Database.Database, id: number): void {
  db.transaction(() => db.prepare('DELETE FROM datasets WHERE id = ?').run(id)).immediate();
}

/** A volume's stored path (resolved against the home) and recorded sha256, or undefined. */
export function volumeRow(db: Database.Database, id: number): { id: number; path: string; sha256: string | null } | undefined {
  const row = db.prepare('SELECT id, path, sha256 FROM volumes WHERE id = ?').get(id) as { id: number; path: string; sha256: string | null } | undefined;
  if (row) row.path = fromStoredPath(homeRootOfDb(db), row.path);
  return row;
}

/** The dataset subject whose FLAIR volume is the file at `absPath`, or undefined for any other file. */
export function subjectOfFlairPath(db: Database.Database, absPath: string): { datasetId: number; subject: string } | undefined {
  const stored = toStoredPath(homeRootOfDb(db), absPath);
  return db
    .prepare(
      `SELECT s.dataset_id AS datasetId, s.label AS subject FROM volumes v JOIN subjects s ON s.id = v.subject_id
       WHERE v.modality = 'FLAIR' AND v.path IN (?, ?) ORDER BY v.id LIMIT 1`,
    )
    .get(stored, absPath) as { datasetId: number; subject: string } | undefined;
}

/** Records a preparation (options, counts, cache folder) and every subject's split, all or nothing. */
export function savePrepared(db: Database.Database, datasetId: number, info: PreparedInfo, normalisation: string, splits: readonly { subjectId: number; split: SplitName }[]): void {
  const setSplit = db.prepare('UPDATE subjects SET split = ? WHERE id = ?');
  db.transaction(() => {
    db.prepare('UPDATE datasets SET prepared = ?, normalisation = ? WHERE id = ?').run(JSON.stringify(info), normalisation, datasetId);
    for (const s of splits) setSplit.run(s.split, s.subjectId);
  }).immediate();
}

export interface DatasetRowInput {
  name: string;
  kind: DatasetKind;
  source: string | null;
  attribution: string | null;
  synthetic: boolean;
  grid: string | null;
  warnings: string[];
}

export interface VolumeRowInput {
  modality: VolumeModality;
  /** As stored (relative to the home where inside it). */
  path: string;
  dims: unknown;
  pixdim: unknown;
  affine: unknown;
  orientation: string | null;
  datatype: string | null;
  sha256: string | null;
  checks: Record<string, unknown>;
}

export interface SubjectRowInput {
  label: string;
  session: string | null;
  volumes: VolumeRowInput[];
}

/**
 * Inserts a dataset with its subjects and volumes in one IMMEDIATE transaction. `subjects` gets
 * the new id (stored paths may depend on it); `finish` runs last inside the transaction, so when
 * it throws (a failed file move) every row is rolled back. Returns the dataset id.
 */
export function insertDataset(db: Database.Database, dataset: DatasetRowInput, subjects: (id: number) => SubjectRowInput[], finish: (id: number) => void): number {
  const insertDatasetRow = db.prepare('INSERT INTO datasets (name, kind, source, attribution, synthetic, grid, warnings) VALUES (?, ?, ?, ?, ?, ?, ?)');
  const insertSubject = db.prepare('INSERT INTO subjects (dataset_id, label, session) VALUES (?, ?, ?)');
  const insertVolume = db.prepare(
    'INSERT INTO volumes (subject_id, modality, path, dims, pixdim, affine, orientation, datatype, sha256, checks) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  return db
    .transaction(() => {
      const id = Number(
        insertDatasetRow.run(dataset.name, dataset.kind, dataset.source, dataset.attribution, dataset.synthetic ? 1 : 0, dataset.grid, JSON.stringify(dataset.warnings)).lastInsertRowid,
      );
      for (const s of subjects(id)) {
        const subjectId = Number(insertSubject.run(id, s.label, s.session).lastInsertRowid);
        for (const v of s.volumes) {
          insertVolume.run(
            subjectId,
            v.modality,
            v.path,
            JSON.stringify(v.dims),
            JSON.stringify(v.pixdim),
            JSON.stringify(v.affine),
            v.orientation,
            v.datatype,
            v.sha256,
            JSON.stringify(v.checks),
          );
        }
      }
      finish(id);
      return id;
    })
    .immediate();
}

/**
 * All-or-nothing dataset import: every file is read and checked first (header, grid, 4D,
 * NaN/Inf, empty, FLAIR/T1w/mask on one grid, one grid for the whole dataset); only when no file
 * has a problem is the dataset written, in one transaction. Volumes stay where they are (absolute
 * paths + sha256) unless `adopt` moves a staging folder (phantom, download) into
 * home/datasets/<id>/ as part of that transaction.
 */
import { createHash } from 'node:crypto';
import { existsSync, realpathSync, renameSync } from 'node:fs';
import { basename, relative, resolve } from 'node:path';
import type Database from 'better-sqlite3';
import { scanBidsFolder, type SubjectFiles } from '../../ml/data/bids';
import { checkVolume, sameGrid, formatAffine, type VolumeChecks } from '../../ml/data/mni';
import { checkVoxelBudget, readNifti, readNiftiHeader, DEFAULT_MAX_VOXEL_BYTES, NiftiError, type NiftiHeaderInfo } from '../../ml/data/nifti';
import { readRegularFile } from '../../ml/io/regular-file';
import { datasetNameProblem } from '../../shared/dataset-name';
import { homeRootOfDb, toStoredPath } from '../home-paths';
import type { DatasetKind, DatasetSummary, VolumeModality } from '../store/datasets';
import { datasetNameTaken, insertDataset, requireDataset } from '../store/datasets';
import { readFolderAttribution } from './folder-attribution';

export interface StoreHandle {
  db: Database.Database;
}

export interface ImportOptions {
  name: string;
  /** A BIDS-like folder, or explicit pairs. */
  dir?: string;
  pairs?: SubjectFiles[];
  kind?: DatasetKind;
  source?: string;
  attribution?: string;
  synthetic?: boolean;
  /** Move `stagingDir` to `datasetDir(id)` inside the transaction and store the moved paths. */
  adopt?: { stagingDir: string; datasetDir: (id: number) => string };
  onProgress?: (done: number, total: number, file: string) => void;
  maxVoxelBytes?: number;
}

/** Every problem found, each naming its file; nothing was stored. */
export class DatasetImportError extends Error {
  constructor(
    readonly datasetName: string,
    readonly problems: string[],
  ) {
    super(`import of dataset "${datasetName}" refused, nothing was stored:\n  - ${problems.join('\n  - ')}`);
    this.name = 'DatasetImportError';
  }
}

interface CheckedVolume {
  modality: VolumeModality;
  path: string;
  info: NiftiHeaderInfo;
  checks: VolumeChecks;
  sha256: string;
  /** The path as the user gave it (relative to the folder), for messages. */
  shown: string;
}

interface CheckedSubject {
  files: SubjectFiles;
  volumes: CheckedVolume[];
}

const ROLES: readonly { key: keyof SubjectFiles; modality: VolumeModality }[] = [
  { key: 'flair', modality: 'FLAIR' },
  { key: 't1w', modality: 'T1w' },
  { key: 'lesionMask', modality: 'lesion_mask' },
  { key: 'brainMask', modality: 'brain_mask' },
];

function display(path: string, root: string | undefined): string {
  if (!root) return path;
  const rel = relative(root, path);
  return rel.startsWith('..') ? path : rel;
}

export async function importDataset(store: StoreHandle, opts: ImportOptions): Promise<DatasetSummary> {
  const nameProblem = datasetNameProblem(opts.name);
  if (nameProblem) throw new Error(nameProblem);
  const name = opts.name.trim();
  const db = store.db;
  if (datasetNameTaken(db, name)) throw new Error(nameTakenMessage(name));
  if (!opts.dir && !opts.pairs) throw new Error('import needs a folder (dir) or a list of FLAIR/T1w pairs');
  const root = opts.dir ? resolve(opts.dir) : opts.adopt?.stagingDir;
  let subjects: SubjectFiles[];
  try {
    subjects = opts.pairs ?? scanBidsFolder(opts.dir ?? '');
  } catch (err) {
    throw new DatasetImportError(name, [err instanceof Error ? err.message : String(err)]);
  }
  if (subjects.length === 0) throw new DatasetImportError(name, ['no subjects given']);
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const s of subjects) {
    const key = `${s.subject}/${s.session ?? ''}`;
    if (seen.has(key)) problems.push(`${s.subject}${s.session ? `/${s.session}` : ''}: listed twice`);
    seen.add(key);
  }

  const total = subjects.reduce((n, s) => n + ROLES.filter((r) => s[r.key]).length, 0);
  let done = 0;
  const checked: CheckedSubject[] = [];
  for (const files of subjects) {
    const volumes: CheckedVolume[] = [];
    for (const { key, modality } of ROLES) {
      const path = files[key] as string | undefined;
      if (!path) continue;
      const shown = display(resolve(path), root);
      opts.onProgress?.(done, total, shown);
      try {
        if (!existsSync(path)) throw new NiftiError(shown, 'file not found');
        // A symlinked volume is stored by its target: the link may be repointed or removed later.
        const abs = realpathSync(path);
        // Grid, 4D and size are decided from the header: a volume refused for them is never inflated.
        const header = await readNiftiHeader(abs);
        const maxVoxelBytes = opts.maxVoxelBytes ?? DEFAULT_MAX_VOXEL_BYTES;
        const headerErrors = checkVolume(header).errors;
        try {
          checkVoxelBudget(header, maxVoxelBytes);
        } catch (err) {
          headerErrors.unshift((err as NiftiError).problem);
        }
        if (headerErrors.length > 0) {
          for (const e of headerErrors) problems.push(`${shown}: ${e}`);
          done++;
          continue;
        }
        const volume = await readNifti(abs, { maxVoxelBytes });
        const isMask = modality === 'lesion_mask' || modality === 'brain_mask';
        const checks = checkVolume(volume, volume.data, { allowEmpty: isMask });
        for (const e of checks.errors) problems.push(`${shown}: ${e}`);
        const { data: _data, ...info } = volume;
        const sha256 = createHash('sha256').update(readRegularFile(abs)).digest('hex');
        volumes.push({ modality, path: abs, info, checks, sha256, shown });
      } catch (err) {
        const msg = err instanceof NiftiError ? `${shown}: ${err.problem}` : `${shown}: ${err instanceof Error ? err.message : String(err)}`;
        problems.push(msg);
      }
      done++;
    }
    const flair = volumes.find((v) => v.modality === 'FLAIR');
    if (flair) {
      for (const v of volumes) {
        if (v === flair) continue;
        if (!sameGrid(v.info, flair.info)) {
          problems.push(
            `${display(v.path, root)}: grid ${v.info.dims.join('x')} ${formatAffine(v.info.affine)} does not match its FLAIR ` +
              `${basename(flair.path)} ${flair.info.dims.join('x')} ${formatAffine(flair.info.affine)}`,
          );
        }
      }
    }
    checked.push({ files, volumes });
  }
  // One grid per dataset: slice indices and MNI z must mean the same thing for every subject.
  const grids = new Map<string, string>();
  for (const s of checked) {
    const flair = s.volumes.find((v) => v.modality === 'FLAIR');
    if (flair?.checks.grid) grids.set(flair.checks.grid, display(flair.path, root));
  }
  if (grids.size > 1) {
    problems.push(`subjects are on different MNI grids (${[...grids].map(([g, f]) => `${g} in ${f}`).join(', ')}); import them as separate datasets`);
  }
  opts.onProgress?.(done, total, '');
  if (problems.length > 0) throw new DatasetImportError(name, problems);

  const warnings = collectWarnings(checked);
  const grid = [...grids.keys()][0] ?? null;
  let movedTo: string | undefined;
  const homeRoot = homeRootOfDb(db);
  const dataset = {
    name,
    kind: opts.kind ?? 'imported',
    source: opts.source ?? (opts.dir ? resolve(opts.dir) : null),
    attribution: opts.attribution ?? (opts.dir ? readFolderAttribution(resolve(opts.dir)) : null),
    synthetic: opts.synthetic ?? false,
    grid,
    warnings,
  };
  const subjectRows = (id: number) => {
    const stagingReal = opts.adopt ? realpathSync(opts.adopt.stagingDir) : undefined;
    const relocate = (p: string) => {
      if (!movedTo || !stagingReal) return p;
      const inside = relative(stagingReal, p);
      return inside.startsWith('..') ? p : resolve(movedTo, inside);
    };
    if (opts.adopt) movedTo = resolve(opts.adopt.datasetDir(id));
    return checked.map((s) => ({
      label: s.files.subject,
      session: s.files.session,
      volumes: s.volumes.map((v) => ({
        modality: v.modality,
        path: toStoredPath(homeRoot, relocate(v.path)),
        dims: v.info.dims,
        pixdim: v.info.pixdim,
        affine: v.info.affine,
        orientation: v.info.orientation,
        datatype: v.info.datatype,
        sha256: v.sha256,
        checks: {
          grid: v.checks.grid,
          gridLabel: v.checks.gridLabel,
          storedOrientation: v.checks.orientation,
          affineSource: v.info.affineSource,
          qformCode: v.info.qformCode,
          sformCode: v.info.sformCode,
          niftiVersion: v.info.version,
          nanCount: v.checks.nanCount,
          infCount: v.checks.infCount,
          min: v.checks.min,
          max: v.checks.max,
          nonzero: v.checks.nonzero,
          sameGridAsFlair: true,
          notes: v.checks.notes,
        },
      })),
    }));
  };
  // Last step inside the transaction: if the move fails, every row is rolled back.
  const adopt = () => {
    if (opts.adopt && movedTo) {
      if (existsSync(movedTo)) throw new Error(`${movedTo} already exists; refusing to overwrite it`);
      renameSync(opts.adopt.stagingDir, movedTo);
    }
  };
  let id: number;
  try {
    id = insertDataset(db, dataset, subjectRows, adopt);
  } catch (err) {
    // Another import with the same name committed between our check above and this write.
    if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE' && /datasets\.name/.test((err as Error).message)) {
      throw new Error(nameTakenMessage(name));
    }
    throw err;
  }
  return requireDataset(db, id);
}

export function nameTakenMessage(name: string): string {
  return `a dataset named "${name}" already exists; choose another --name`;
}

function collectWarnings(subjects: CheckedSubject[]): string[] {
  const counts = new Map<string, number>();
  let volumes = 0;
  for (const s of subjects) {
    for (const v of s.volumes) {
      volumes++;
      for (const note of v.checks.notes) counts.set(note, (counts.get(note) ?? 0) + 1);
      if (v.info.orientation !== 'LAS') {
        const note = `stored ${v.info.orientation}: slices are taken after exact reorientation to LAS (no resampling)`;
        counts.set(note, (counts.get(note) ?? 0) + 1);
      }
    }
  }
  const out = [...counts].map(([note, n]) => `${n} of ${volumes} volumes: ${note}`);
  out.push(...duplicateWarnings(subjects));
  const noMask = subjects.filter((s) => !s.files.lesionMask).map((s) => s.files.subject);
  if (noMask.length > 0 && noMask.length < subjects.length) out.push(`no lesion mask for ${noMask.join(', ')}`);
  return out;
}

/**
 * Byte-identical images under different subjects (or roles) are almost always a copying mistake,
 * and the copies can land in train and test. Masks are left out: many subjects have the same
 * all-zero lesion mask.
 */
function duplicateWarnings(subjects: CheckedSubject[]): string[] {
  const bySha = new Map<string, string[]>();
  for (const s of subjects) {
    for (const v of s.volumes) {
      if (v.modality !== 'FLAIR' && v.modality !== 'T1w') continue;
      const list = bySha.get(v.sha256) ?? [];
      list.push(v.shown);
      bySha.set(v.sha256, list);
    }
  }
  return [...bySha.values()]
    .filter((files) => files.length > 1)
    .map((files) => `byte-identical images: ${files.join(', ')} (the same scan under ${files.length} names can land in both train and test)`);
}

import { resolve } from 'node:path';
import type { Artefact } from '../../shared/contract';
import type { Store } from '../store';
import { InvalidInputError } from '../errors';
import { parseJsonObject } from '../store/json';
import { fromStoredPath, homeRootOfDb, toStoredPath } from '../home-paths';
import { ArtefactsRepository, type ArtefactRow } from '../store/artefacts';

const toArtefact = (r: ArtefactRow, homeRoot: string | undefined): Artefact => ({
  id: r.id,
  runId: r.run_id,
  datasetId: r.dataset_id,
  kind: r.kind,
  path: fromStoredPath(homeRoot, r.path),
  step: r.step,
  meta: parseJsonObject(r.meta),
  createdAt: r.created_at,
});

export interface ArtefactInput {
  runId?: number | null;
  datasetId?: number | null;
  kind: string;
  path: string;
  step?: number | null;
  meta?: Record<string, unknown>;
}

/**
 * Images, volumes, curves and tables produced by runs or dataset preparation. Paths inside the
 * home are stored relative to it, so a moved or copied home shows its own files.
 */
export class ArtefactsService {
  private readonly homeRoot: string | undefined;
  private readonly repo: ArtefactsRepository;

  constructor(private readonly store: Store) {
    this.homeRoot = homeRootOfDb(store.db);
    this.repo = new ArtefactsRepository(store);
  }

  /** A path as stored; one given relative to the working folder is made absolute first (a stored relative path means "inside the home"). */
  private stored(path: string): string {
    return this.homeRoot ? toStoredPath(this.homeRoot, resolve(path)) : path;
  }

  /** Adds several artefacts in one transaction (all or none). */
  addMany(inputs: readonly ArtefactInput[]): Artefact[] {
    return this.store.transaction(() => {
      const now = new Date().toISOString();
      const rows = inputs.map((a) => ({
        runId: a.runId ?? null,
        datasetId: a.datasetId ?? null,
        kind: a.kind,
        path: this.stored(a.path),
        step: a.step ?? null,
        meta: JSON.stringify(a.meta ?? {}),
        createdAt: now,
      }));
      return this.repo
        .insertMany(rows, (a, i) => {
          // Named by the path as given (the stored one may be home-relative or made absolute).
          if (a.runId === null && a.datasetId === null) throw new InvalidInputError(`artefacts[${i}] (${inputs[i]!.path}): needs a runId or a datasetId`);
        })
        .map((r) => toArtefact(r, this.homeRoot));
    });
  }

  add(input: ArtefactInput): Artefact {
    return this.addMany([input])[0]!;
  }

  /** The row of one artefact (meta still JSON text, path absolute), or undefined. */
  row(id: number): { id: number; run_id: number | null; kind: string; path: string; meta: string } | undefined {
    const row = this.repo.row(id);
    if (row) row.path = fromStoredPath(this.homeRoot, row.path);
    return row;
  }

  /** Deletes a run's artefacts logged after `step` (all of them without a step). */
  deleteForRun(runId: number, afterStep?: number): void {
    this.repo.deleteForRun(runId, afterStep);
  }

  list(filter: { runId?: number; datasetId?: number; kind?: string } = {}): Artefact[] {
    return this.repo.list(filter).map((r) => toArtefact(r, this.homeRoot));
  }
}

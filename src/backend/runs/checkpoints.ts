import { resolve } from 'node:path';
import type { Checkpoint } from '../../shared/contract';
import type { Store } from '../store';
import { CheckpointsRepository, type CheckpointRow } from '../store/checkpoints';
import { NotFoundError } from '../errors';
import { fromStoredPath, homeRootOfDb, toStoredPath } from '../home-paths';

const toCheckpoint = (r: CheckpointRow, homeRoot: string | undefined): Checkpoint => ({
  id: r.id,
  runId: r.run_id,
  kind: r.kind,
  path: fromStoredPath(homeRoot, r.path),
  step: r.step,
  epoch: r.epoch,
  sha256: r.sha256,
  createdAt: r.created_at,
});

export interface CheckpointInput {
  kind?: string;
  path: string;
  step: number;
  epoch?: number | null;
  sha256: string;
}

/**
 * Checkpoint records (the files themselves are written atomically by the training loop). Paths
 * inside the home are stored relative to it, so a moved or copied home uses its own files.
 */
export class CheckpointsService {
  private readonly homeRoot: string | undefined;
  private readonly repo: CheckpointsRepository;

  constructor(private readonly store: Store) {
    this.homeRoot = homeRootOfDb(store.db);
    this.repo = new CheckpointsRepository(store);
  }

  /** A path as stored; one given relative to the working folder is made absolute first (a stored relative path means "inside the home"). */
  private stored(path: string): string {
    return this.homeRoot ? toStoredPath(this.homeRoot, resolve(path)) : path;
  }

  add(runId: number, input: CheckpointInput): Checkpoint {
    return this.store.transaction(() => {
      if (!this.repo.runExists(runId)) throw new NotFoundError(`run ${runId} does not exist`);
      const id = this.repo.insert(runId, { ...input, path: this.stored(input.path), kind: input.kind ?? 'last', epoch: input.epoch ?? null, createdAt: new Date().toISOString() });
      return toCheckpoint(this.repo.get(id)!, this.homeRoot);
    });
  }

  /** A checkpoint written under one or more kinds ('last', 'best') replaces the earlier ones of those kinds. */
  replace(runId: number, kinds: readonly string[], input: Omit<CheckpointInput, 'kind'>): void {
    const path = this.stored(input.path);
    this.store.transaction(() => {
      for (const kind of kinds) {
        this.repo.deleteKind(runId, kind);
        this.repo.insert(runId, { path, step: input.step, sha256: input.sha256, kind, epoch: input.epoch ?? null, createdAt: new Date().toISOString() });
      }
    });
  }

  /** Forgets the run's checkpoint of a kind (its files are gone). */
  remove(runId: number, kind: string): void {
    this.repo.deleteKind(runId, kind);
  }

  list(runId: number): Checkpoint[] {
    return this.repo.list(runId).map((r) => toCheckpoint(r, this.homeRoot));
  }

  /** The newest checkpoint of a kind (highest step), or undefined. */
  latest(runId: number, kind = 'last'): Checkpoint | undefined {
    const row = this.repo.latest(runId, kind);
    return row && toCheckpoint(row, this.homeRoot);
  }
}

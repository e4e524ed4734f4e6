import type { Checkpoint } from '../../shared/contract';
import type { Store } from '../store';
import { CheckpointsRepository, type CheckpointRow } from '../store/checkpoints';
import { NotFoundError } from '../errors';

const toCheckpoint = (r: CheckpointRow): Checkpoint => ({
  id: r.id,
  runId: r.run_id,
  kind: r.kind,
  path: r.path,
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

/** Checkpoint records (the files themselves are written atomically by the training loop). */
export class CheckpointsService {
  private readonly repo: CheckpointsRepository;

  constructor(private readonly store: Store) {
    this.repo = new CheckpointsRepository(store);
  }

  add(runId: number, input: CheckpointInput): Checkpoint {
    return this.store.transaction(() => {
      if (!this.repo.runExists(runId)) throw new NotFoundError(`run ${runId} does not exist`);
      const id = this.repo.insert(runId, { ...input, kind: input.kind ?? 'last', epoch: input.epoch ?? null, createdAt: new Date().toISOString() });
      return toCheckpoint(this.repo.get(id)!);
    });
  }

  /** A checkpoint written under one or more kinds ('last', 'best') replaces the earlier ones of those kinds. */
  replace(runId: number, kinds: readonly string[], input: Omit<CheckpointInput, 'kind'>): void {
    this.store.transaction(() => {
      for (const kind of kinds) {
        this.repo.deleteKind(runId, kind);
        this.repo.insert(runId, { path: input.path, step: input.step, sha256: input.sha256, kind, epoch: input.epoch ?? null, createdAt: new Date().toISOString() });
      }
    });
  }

  list(runId: number): Checkpoint[] {
    return this.repo.list(runId).map(toCheckpoint);
  }

  /** The newest checkpoint of a kind (highest step), or undefined. */
  latest(runId: number, kind = 'last'): Checkpoint | undefined {
    const row = this.repo.latest(runId, kind);
    return row && toCheckpoint(row);
  }
}

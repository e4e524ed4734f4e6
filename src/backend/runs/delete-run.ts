import { existsSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConflictError } from '../errors';
import type { Store } from '../store';
import { RunsRepository } from '../store/runs';
import type { RunsService } from './runs';

/**
 * Deletes a run and everything it owns, all or nothing: its folder is first moved aside (one
 * rename on the same disk), then its rows go in one transaction (metrics, checkpoints,
 * artefacts and lineage rows cascade); if that fails the folder is moved back. Only then is the
 * moved folder removed, so a crash leaves either the whole run or a `.deleted-*` folder.
 */
export function deleteRun(deps: { store: Store; runs: RunsService; runDir: (id: number) => string }, id: number): { id: number; removedFolder: boolean } {
  const run = deps.runs.get(id);
  if (run.status === 'running' || run.status === 'queued') {
    throw new ConflictError(`run ${id} is ${run.status}: cancel it before deleting it`);
  }
  const repo = new RunsRepository(deps.store);
  const children = repo.childIds(id);
  if (children.length > 0) {
    const ids = children.map((c) => `#${c}`).join(', ');
    throw new ConflictError(`run ${id} is the parent of run${children.length > 1 ? 's' : ''} ${ids}: delete ${children.length > 1 ? 'those' : 'that one'} first`);
  }
  const dir = deps.runDir(id);
  const aside = join(dirname(dir), `.deleted-${id}-${Date.now()}`);
  const hadFolder = existsSync(dir);
  if (hadFolder) renameSync(dir, aside);
  try {
    deps.store.transaction(() => {
      repo.delete(id);
    });
  } catch (err) {
    if (hadFolder) renameSync(aside, dir);
    throw err;
  }
  if (hadFolder) rmSync(aside, { recursive: true, force: true });
  return { id, removedFolder: hadFolder };
}

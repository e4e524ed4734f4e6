import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../../ml/io';

/**
 * Which process owns a run's job: `runs/<id>/job.json` holds {pid, host, heartbeat}. The owner
 * refreshes it while the run is queued or running, so another brainsynth process (the CLI beside
 * the app) can tell a live job from one left behind by a process that died.
 */
export interface OwnerFile {
  pid: number;
  host: string;
  heartbeat: number;
}

/** Heartbeats older than this mark an owner as dead, unless the caller says otherwise. */
export const DEFAULT_STALE_AFTER_MS = 30_000;

const ownerPath = (runDir: string) => join(runDir, 'job.json');

/** Writes (refreshes) this process's claim on the run; best effort, like any heartbeat. */
export function writeOwner(runDir: string): void {
  const owner: OwnerFile = { pid: process.pid, host: hostname(), heartbeat: Date.now() };
  try {
    mkdirSync(runDir, { recursive: true });
    writeFileAtomic(ownerPath(runDir), new TextEncoder().encode(JSON.stringify(owner)));
  } catch {
    /* the next beat tries again */
  }
}

export function readOwner(runDir: string): OwnerFile | null {
  const p = ownerPath(runDir);
  if (!existsSync(p)) return null;
  try {
    return JSON.parse(readFileSync(p, 'utf8')) as OwnerFile;
  } catch {
    return null;
  }
}

export function removeOwner(runDir: string): void {
  rmSync(ownerPath(runDir), { force: true });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The run is owned by a live process: a fresh heartbeat and, on this host, a pid that exists.
 * `ownedHere` answers for this process itself (its pid is alive, but the job may be gone).
 */
export function ownerAlive(runDir: string, ownedHere: () => boolean, staleAfterMs = DEFAULT_STALE_AFTER_MS): boolean {
  const owner = readOwner(runDir);
  if (!owner) return false;
  if (owner.pid === process.pid && owner.host === hostname()) return ownedHere();
  const fresh = Date.now() - owner.heartbeat < staleAfterMs;
  if (owner.host !== hostname()) return fresh;
  return fresh && pidAlive(owner.pid);
}

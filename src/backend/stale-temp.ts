/**
 * Sweeps what a killed import, phantom, download, prepare or run leaves in the home: staging folders
 * (.staging-<kind>-<pid>-<time>), atomic-write temp files and folders (.<name>.<pid>.<time>.tmp)
 * and replaced caches (<name>.old-<pid>). Each name carries the pid of the process that made it;
 * only entries whose process is gone are removed, so a job running in another process keeps its
 * files. Sweeping never fails the caller: on a read-only home it simply removes nothing.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const PATTERNS: readonly RegExp[] = [/^\.staging-[a-z0-9-]+?-(\d+)-\d+$/, /^\..+\.(\d+)\.\d+\.tmp$/, /^.+\.old-(\d+)$/];

/** The pid a leftover's name was made by, or undefined when the name is not one of ours. */
export function leftoverPid(name: string): number | undefined {
  for (const pattern of PATTERNS) {
    const m = pattern.exec(name);
    if (m) return Number(m[1]);
  }
  return undefined;
}

export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes dead processes' leftovers directly inside each of `dirs`; returns what was removed. */
export function sweepStaleTemp(dirs: readonly string[], alive: (pid: number) => boolean = processAlive): string[] {
  const removed: string[] = [];
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const pid = leftoverPid(name);
      if (pid === undefined || alive(pid)) continue;
      try {
        rmSync(join(dir, name), { recursive: true, force: true });
        removed.push(join(dir, name));
      } catch {
        // Read-only or busy: try again next start.
      }
    }
  }
  return removed;
}

/** Folders below `dir` (itself included) down to `depth` levels, leaving out our own leftovers. */
function foldersBelow(dir: string, depth: number): string[] {
  const out = [dir];
  if (depth === 0) return out;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    if (e.isDirectory() && !e.isSymbolicLink() && leftoverPid(e.name) === undefined) out.push(...foldersBelow(join(dir, e.name), depth - 1));
  }
  return out;
}

/**
 * The home folders where imports, downloads, prepares and runs make their temporary entries. A
 * run writes atomically into runs/<id>/ and its subfolders (checkpoints/step-N, generated/<job>,
 * translations, images), so those are searched three levels deep.
 */
export function homeTempDirs(home: { root: string; datasetsDir: string; runsDir?: string }): string[] {
  let datasets: string[] = [];
  try {
    datasets = readdirSync(home.datasetsDir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && /^\d+$/.test(e.name))
      .map((e) => join(home.datasetsDir, e.name));
  } catch {
    // No datasets folder yet.
  }
  let runs: string[] = [];
  if (home.runsDir) {
    try {
      runs = readdirSync(home.runsDir, { withFileTypes: true })
        .filter((e) => e.isDirectory() && /^\d+$/.test(e.name))
        .flatMap((e) => foldersBelow(join(home.runsDir!, e.name), 3));
    } catch {
      // No runs folder yet.
    }
  }
  const runsDirs = home.runsDir ? [home.runsDir, ...runs] : [];
  return [home.root, home.datasetsDir, ...datasets, join(home.root, 'downloads', 'open-ms'), ...runsDirs];
}

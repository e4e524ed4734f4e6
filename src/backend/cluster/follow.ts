import { mkdirSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../../ml/io';
import type { ClusterDeps } from './deps';
import { importClusterRun, type ClusterImportResult } from './import';

/**
 * `cluster import --follow`: keeps importing a job folder (a shared or synced file system) while
 * the job runs, so the run's curves update live. While following, the run stays 'running' and the
 * follower keeps the run folder's owner file (pid, host, heartbeat) fresh, the same file local
 * training jobs keep, so other brainsynth processes do not take the run for an interrupted one.
 * It stops when the job completes or fails, when stop() is called (the run is then left
 * 'cancelled' = paused; import again to continue), when the run is cancelled from elsewhere, or
 * when several polls in a row fail.
 */

export interface FollowOptions {
  pollMs?: number;
  /** Consecutive failed polls after which following gives up (default 5). */
  maxFailures?: number;
  onUpdate?: (r: ClusterImportResult) => void;
  /** A poll failed and will be retried (failures: consecutive count so far). */
  onRetry?: (err: Error, failures: number) => void;
}

export class ClusterFollower {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private runId: number | null = null;
  private failures = 0;
  private resolveDone!: (r: ClusterImportResult | Error) => void;
  /** Resolves with the last import when following ends (an Error if an import failed). */
  readonly done: Promise<ClusterImportResult | Error>;
  last: ClusterImportResult | null = null;

  constructor(
    private readonly services: ClusterDeps,
    readonly folder: string,
    private readonly opts: FollowOptions = {},
  ) {
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  /** The first import runs synchronously, so a bad folder is refused before following starts. */
  start(): ClusterImportResult {
    const first = this.tick();
    if (first instanceof Error) throw first;
    return first;
  }

  private ownerPath(): string | null {
    return this.runId === null ? null : join(this.services.home.runDir(this.runId), 'job.json');
  }

  private heartbeat(): void {
    const p = this.ownerPath();
    if (!p) return;
    try {
      mkdirSync(this.services.home.runDir(this.runId!), { recursive: true });
      writeFileAtomic(p, Buffer.from(JSON.stringify({ pid: process.pid, host: hostname(), heartbeat: Date.now() })));
    } catch {
      /* best effort, as for local jobs */
    }
  }

  private tick(): ClusterImportResult | Error {
    if (this.stopped) return this.last ?? new Error('stopped');
    if (this.last && this.runId !== null) {
      // Someone ended the run while we held it running (the app's or CLI's cancel): stop following.
      const run = this.services.runs.get(this.runId);
      if (run.status !== 'running') {
        const ended = { ...this.last, run };
        this.finish(ended);
        return ended;
      }
    }
    let r: ClusterImportResult;
    try {
      r = importClusterRun(this.services, this.folder, { following: true });
      this.failures = 0;
    } catch (err) {
      // Once following, a failed poll is usually a passing state of a live folder (a checkpoint
      // pruned between reading its pointer and its files, a busy database): try again a few times.
      if (this.last && ++this.failures < (this.opts.maxFailures ?? 5)) {
        this.opts.onRetry?.(err as Error, this.failures);
        this.heartbeat();
        this.timer = setTimeout(() => this.tick(), this.opts.pollMs ?? 2000);
        return this.last;
      }
      this.finish(err as Error);
      return err as Error;
    }
    this.last = r;
    this.runId = r.run.id;
    this.opts.onUpdate?.(r);
    if (r.jobState === 'completed' || r.jobState === 'failed') {
      this.finish(r);
    } else {
      this.heartbeat();
      this.timer = setTimeout(() => this.tick(), this.opts.pollMs ?? 2000);
    }
    return r;
  }

  private finish(r: ClusterImportResult | Error): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const p = this.ownerPath();
    if (p) rmSync(p, { force: true });
    this.resolveDone(r);
  }

  /** Stops following; an unfinished run is left paused ('cancelled') and can be imported again. */
  stop(): void {
    if (this.stopped) return;
    let final: ClusterImportResult | Error;
    try {
      final = importClusterRun(this.services, this.folder, { following: false });
    } catch (err) {
      final = err as Error;
    }
    this.finish(final);
  }
}

/** The followers of one process (the app's main process or the bridge); stopped when the back end closes. */
export class ClusterFollowers {
  private readonly active = new Map<string, ClusterFollower>();

  constructor(private readonly services: ClusterDeps) {}

  follow(folder: string, opts: FollowOptions = {}): ClusterImportResult {
    const existing = this.active.get(folder);
    if (existing?.last) return existing.last;
    const f = new ClusterFollower(this.services, folder, opts);
    const first = f.start();
    if (first.jobState === 'running' || first.jobState === 'not started') {
      this.active.set(folder, f);
      void f.done.then(() => this.active.delete(folder));
    }
    return first;
  }

  following(): { folder: string; runId: number | null }[] {
    return [...this.active.values()].map((f) => ({ folder: f.folder, runId: f.last?.run.id ?? null }));
  }

  stopAll(): void {
    for (const f of this.active.values()) f.stop();
    this.active.clear();
  }
}

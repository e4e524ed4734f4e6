/**
 * The job kinds the host knows: which lane each waits in, how a cancel reaches it, and how long
 * it may go without a sign of life before the host fails it. A later kind registers itself here
 * (and adds its case to run-job.ts) without touching the host.
 */
export type Lane = 'compute' | 'io';

export interface JobKindInfo {
  /**
   * 'compute' jobs (training, sampling) run one at a time, since each uses every core it gets;
   * 'io' jobs (dataset import, download, prepare) run one at a time beside them.
   */
  lane: Lane;
  /**
   * 'flag': the job polls the cancel flag between steps and stops cleanly; 'terminate': a cancel
   * terminates the job's worker (its writes are all-or-nothing). Run in the caller's thread, such
   * a job has no worker to terminate and stops at its next progress report instead.
   */
  cancelBy: 'flag' | 'terminate';
  /** A running job with no progress, message or heartbeat from its worker for this long is failed. */
  stallAfterMs: number;
  /**
   * A 'flag' job still running this long after a cancel (stuck where it never polls) has its
   * worker terminated and ends cancelled. Default: DEFAULT_CANCEL_GRACE_MS.
   */
  cancelGraceMs?: number;
  /** What the user reads for this kind in messages ("training worker crashed: ..."). */
  noun: string;
}

const MINUTE = 60_000;

/** Long enough for a step and the cancel checkpoint of a large network on a slow machine. */
export const DEFAULT_CANCEL_GRACE_MS = 5 * MINUTE;

const registry = new Map<string, JobKindInfo>([
  ['import', { lane: 'io', cancelBy: 'terminate', stallAfterMs: 30 * MINUTE, noun: 'dataset' }],
  ['phantom', { lane: 'io', cancelBy: 'terminate', stallAfterMs: 30 * MINUTE, noun: 'dataset' }],
  ['prepare', { lane: 'io', cancelBy: 'terminate', stallAfterMs: 30 * MINUTE, noun: 'dataset' }],
  ['fetch', { lane: 'io', cancelBy: 'terminate', stallAfterMs: 30 * MINUTE, noun: 'dataset' }],
  // A validation pass or a checkpoint of a large network can be slow on 2 cores; steps report often.
  ['train', { lane: 'compute', cancelBy: 'flag', stallAfterMs: 60 * MINUTE, noun: 'training' }],
  ['generate', { lane: 'compute', cancelBy: 'flag', stallAfterMs: 30 * MINUTE, noun: 'sampling' }],
  ['translate', { lane: 'compute', cancelBy: 'flag', stallAfterMs: 30 * MINUTE, noun: 'sampling' }],
  ['evaluate', { lane: 'compute', cancelBy: 'flag', stallAfterMs: 30 * MINUTE, noun: 'sampling' }],
  // Unconditional LDM samples (`brainsynth sample`).
  ['sample', { lane: 'compute', cancelBy: 'flag', stallAfterMs: 30 * MINUTE, noun: 'sampling' }],
  // Timing a few training steps before a run: on the compute lane so it neither slows nor is
  // slowed by a running job; one step of a large network may take many minutes on 2 cores.
  ['estimate', { lane: 'compute', cancelBy: 'flag', stallAfterMs: 60 * MINUTE, noun: 'estimate' }],
]);

/** Every registered kind, in registration order. */
export function jobKinds(): string[] {
  return [...registry.keys()];
}

export function registerJobKind(kind: string, info: JobKindInfo): void {
  if (registry.has(kind)) throw new Error(`job kind '${kind}' is already registered`);
  registry.set(kind, info);
}

export function jobKindInfo(kind: string): JobKindInfo {
  const info = registry.get(kind);
  if (!info) throw new Error(`unknown job kind '${kind}' (known: ${[...registry.keys()].join(', ')})`);
  return info;
}

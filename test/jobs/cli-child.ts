import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';

/** The CLI in a child process, as a user runs it (see cli.test.ts). */
export const BIN = resolve(__dirname, '../../bin/brainsynth.mjs');

export type CliChild = ChildProcess & { out: string; err: string; done: Promise<number> };

/** Runs `brainsynth --home <home> ...args`; `env` adds test gates such as BRAINSYNTH_TEST_HOLD_AT_STEP. */
export function cli(home: string, args: string[], env: Record<string, string> = {}): CliChild {
  const child = spawn(process.execPath, [BIN, '--home', home, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BRAINSYNTH_TEST_HOLD_AT_STEP: '', BRAINSYNTH_TEST_HOLD_AT_CHECKPOINT: '', ...env },
  }) as CliChild;
  child.out = '';
  child.err = '';
  child.stdout!.on('data', (d) => (child.out += d));
  child.stderr!.on('data', (d) => (child.err += d));
  child.done = new Promise((r) => child.on('close', (code, signal) => r(code ?? (signal ? 128 : -1))));
  return child;
}

/** One read-only query against a home's database (never leaves -wal/-shm behind for a writer). */
export function query<T>(dbPath: string, sql: string, ...args: unknown[]): T[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare(sql).all(...args) as T[];
  } finally {
    db.close();
  }
}

/**
 * Polls `probe` until it returns a value (not undefined); fails early when the child exits, and
 * after `ms` (a safety net, not a timing assertion), always saying what it last saw.
 */
export async function until<T>(what: string, child: CliChild, probe: () => { value?: T; saw: unknown }, ms = 300_000): Promise<T> {
  const t0 = Date.now();
  let exited: number | null = null;
  void child.done.then((code) => (exited = code));
  for (;;) {
    let seen: { value?: T; saw: unknown };
    try {
      seen = probe();
    } catch (err) {
      seen = { saw: (err as Error).message };
    }
    if (seen.value !== undefined) return seen.value;
    const msg = `waiting for ${what}; saw ${JSON.stringify(seen.saw)}`;
    if (exited !== null) throw new Error(`${msg}; the CLI exited with ${exited}:\n${child.out}\n${child.err}`);
    if (Date.now() - t0 > ms) throw new Error(`${msg} after ${ms / 1000} s\n${child.out}\n${child.err}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

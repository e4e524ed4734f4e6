import type { Command } from 'commander';
import { openBackend, type Services } from '../backend';
import { diskError } from '../ml/io/fs-errors';

/** The --home given anywhere on the command line (global option), or undefined. */
export function homeOption(cmd: Command): string | undefined {
  return (cmd.optsWithGlobals() as { home?: string }).home;
}

/** Opens the composition root for one command and always closes it. */
export async function withServices<T>(cmd: Command, fn: (s: Services) => T | Promise<T>): Promise<T> {
  const home = homeOption(cmd);
  const services = openBackend(home !== undefined ? { home } : {});
  try {
    return await fn(services);
  } catch (err) {
    // A full or read-only database: say which file and why, not just SQLite's words.
    const code = (err as { code?: unknown } | null)?.code;
    throw typeof code === 'string' && code.startsWith('SQLITE_') ? diskError(err, services.home.dbPath) : err;
  } finally {
    services.close();
  }
}

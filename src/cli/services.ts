import type { Command } from 'commander';
import { openBackend, type Services } from '../backend';

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
  } finally {
    services.close();
  }
}

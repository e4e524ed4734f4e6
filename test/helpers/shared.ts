import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * The read-only ../shared folder (reference docs, real data, MONAI fixtures). Tests read it in
 * place and never copy its files into the repo. BRAINSYNTH_SHARED overrides the location.
 */
export function sharedDir(): string {
  return resolve(process.env.BRAINSYNTH_SHARED ?? resolve(__dirname, '../../../shared'));
}

export function sharedPath(...parts: string[]): string {
  return resolve(sharedDir(), ...parts);
}

export const hasShared = existsSync(resolve(sharedDir(), 'fixtures/monai/manifest.json'));

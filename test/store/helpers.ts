import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBackend, type Services } from '../../src/backend';

/** A fresh home folder in the OS temp dir, removed by the returned cleanup. */
export function tempHome(prefix = 'brainsynth-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function tempServices(): Services & { cleanup: () => void } {
  const home = tempHome();
  const services = openBackend({ home: home.dir });
  return Object.assign(services, {
    cleanup: () => {
      services.close();
      home.cleanup();
    },
  });
}

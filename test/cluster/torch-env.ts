import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedPath } from '../helpers/shared';

/**
 * The cluster's stand-in for tests: Debian's /usr/bin/python3 with python3-torch, and MONAI 1.3.0 +
 * MONAI Generative from the vendored tarball, unpacked to a temp folder for PYTHONPATH.
 * `reason` says why the round trip cannot run here (null when it can).
 */
/** BRAINSYNTH_TEST_PYTHON picks another interpreter (e.g. a missing one, to see the skip). */
export const PYTHON = process.env.BRAINSYNTH_TEST_PYTHON ?? '/usr/bin/python3';
const TARBALL = sharedPath('tools/torch-anchor/monai-1.3.0+generative-7428fce.tgz');

function probe(): string | null {
  if (!existsSync(PYTHON)) return `${PYTHON} not found`;
  const r = spawnSync(PYTHON, ['-c', 'import torch, numpy, PIL; print(torch.__version__)'], { encoding: 'utf8' });
  if (r.status !== 0) return `${PYTHON} cannot import torch/numpy/PIL (apt-get install -y python3-torch python3-pil): ${(r.stderr || '').trim().split('\n').pop()}`;
  if (!existsSync(TARBALL)) return `${TARBALL} not found (MONAI + Generative tarball)`;
  return null;
}

export const torchSkipReason = probe();

/** Unpacks MONAI + Generative once per call site; returns the PYTHONPATH folder. */
export function unpackMonai(): string {
  const dir = mkdtempSync(join(tmpdir(), 'bs-monai-'));
  const r = spawnSync('tar', ['xzf', TARBALL, '-C', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar ${TARBALL}: ${r.stderr}`);
  return dir;
}

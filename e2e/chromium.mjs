#!/usr/bin/env node
// Finds the Chromium the e2e tests drive (never a browser playwright downloads), and installs
// Debian's package when it is missing and this process may (root with apt-get), so that
// `npm test` passes on a fresh machine by itself. Elsewhere it stops with one line saying how.
// `node e2e/chromium.mjs` (npm's pretest) checks or installs, then prints the path it will use.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome-stable', '/usr/bin/google-chrome'];

/** The browser to drive: $BRAINSYNTH_CHROMIUM, else the first installed candidate, else null. */
export function locateChromium() {
  const chosen = process.env.BRAINSYNTH_CHROMIUM;
  if (chosen) return existsSync(chosen) ? chosen : null;
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

/** How to get a browser, in one line (what the failure says). */
export function howToInstall() {
  const chosen = process.env.BRAINSYNTH_CHROMIUM;
  return chosen
    ? `e2e: BRAINSYNTH_CHROMIUM=${chosen} does not exist: point it at a Chromium or Chrome binary, or unset it to use ${CANDIDATES[0]}`
    : `e2e: no Chromium found (looked at ${CANDIDATES.join(', ')}): run \`sudo apt-get install -y chromium\` (Debian/Ubuntu), or set BRAINSYNTH_CHROMIUM=/path/to/chromium`;
}

const canApt = () => process.platform === 'linux' && process.getuid?.() === 0 && spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;

/** The browser's path, installing Debian's Chromium first where that is possible; throws howToInstall() otherwise. */
export function ensureChromium({ log = (line) => process.stdout.write(`${line}\n`) } = {}) {
  const found = locateChromium();
  if (found) return found;
  if (!process.env.BRAINSYNTH_CHROMIUM && canApt()) {
    log('e2e: Chromium is missing; installing Debian\'s package (apt-get install -y chromium) ...');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    const install = update.status === 0 ? spawnSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env }) : update;
    const after = locateChromium();
    if (install.status === 0 && after) return after;
  }
  throw new Error(howToInstall());
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    process.stdout.write(`e2e: using ${ensureChromium()}\n`);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}

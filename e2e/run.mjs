#!/usr/bin/env node
// `npm run test:e2e`: builds the renderer if needed, starts `brainsynth serve` on a fresh home and
// a random port, runs e2e/*.e2e.mjs with node's test runner against it, and stops the server.
// Usage: node e2e/run.mjs [name-filter ...]   (e.g. `node e2e/run.mjs experiments`)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { register } from 'tsx/esm/api';

register();
const { repoRoot, startServe } = await import('./helpers.mjs');
const { ensureChromium } = await import('./chromium.mjs');

const filters = process.argv.slice(2);
const e2eDir = join(repoRoot, 'e2e');
const files = readdirSync(e2eDir)
  .filter((f) => f.endsWith('.e2e.mjs'))
  .filter((f) => filters.length === 0 || filters.some((needle) => f.includes(needle)))
  .sort()
  .map((f) => join('e2e', f));
if (files.length === 0) {
  console.error(`e2e: no e2e/*.e2e.mjs file matches ${filters.join(', ') || '(no filter)'}`);
  process.exit(1);
}

// The browser first: a missing one should stop the run in seconds, with how to get it.
try {
  console.log(`e2e: Chromium at ${ensureChromium()}`);
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
}

if (!existsSync(join(repoRoot, 'out', 'renderer', 'index.html'))) {
  console.log('e2e: out/renderer is missing; running `electron-vite build` first');
  const build = spawnSync(process.execPath, [join(repoRoot, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js'), 'build'], {
    cwd: repoRoot,
    stdio: 'inherit',
  });
  if (build.status !== 0 || !existsSync(join(repoRoot, 'out', 'renderer', 'index.html'))) {
    console.error('e2e: the build did not produce out/renderer/index.html; run `npm run build` and read its errors');
    process.exit(1);
  }
}

const server = await startServe();
console.log(`e2e: brainsynth serve at ${server.url} (home ${server.home})`);

let exitCode = 1;
const stopServer = async () => {
  await server.stop().catch((err) => console.error('e2e: stopping the server failed:', err));
};
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => void stopServer().then(() => process.exit(130)));
}

try {
  exitCode = await new Promise((resolveExit) => {
    const tests = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
      {
        cwd: repoRoot,
        stdio: 'inherit',
        env: { ...process.env, BRAINSYNTH_E2E_URL: server.url, BRAINSYNTH_E2E_HOME: server.home },
      },
    );
    tests.once('exit', (code, signal) => resolveExit(code ?? (signal ? 1 : 0)));
  });
} finally {
  if (server.child.exitCode !== null) console.error(`e2e: the server had exited (code ${server.child.exitCode}).\n${server.stderr()}`);
  await stopServer();
}
process.exit(exitCode);

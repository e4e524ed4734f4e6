#!/usr/bin/env node
// `npm start`: open the Electron app; where the Electron binary is missing (installed with
// ELECTRON_SKIP_BINARY_DOWNLOAD=1, as on CI and headless machines) fall back to the browser
// bridge. Extra arguments are passed on: `npm start -- --home /data/bs --port 8080`.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);

function say(message) {
  process.stdout.write(`brainsynth start: ${message}\n`);
}

/** The Electron binary's path, or undefined when it was never downloaded. */
function electronBinary() {
  try {
    const path = require('electron'); // throws "Electron failed to install correctly" without the binary
    return typeof path === 'string' && existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

function build() {
  say('building the app (npx electron-vite build) ...');
  const bin = join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'electron-vite.cmd' : 'electron-vite');
  const result = spawnSync(bin, ['build'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write('brainsynth start: the build failed (see above); fix it or run `npx electron-vite build` to see the error\n');
    process.exit(result.status ?? 1);
  }
}

/** better-sqlite3 is a native module: it must be compiled for Electron's ABI, not Node's. */
function nativeModulesLoadIn(electron) {
  const probe = spawnSync(electron, ['-e', "require('better-sqlite3')"], {
    cwd: root,
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    encoding: 'utf8',
  });
  return probe.status === 0 ? undefined : (probe.stderr || probe.stdout || '').split('\n').find((l) => l.trim()) ?? 'unknown error';
}

function run(command, commandArgs, env = process.env) {
  const child = spawn(command, commandArgs, { cwd: root, stdio: 'inherit', env });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 0)));
}

function serve(reason) {
  say(reason);
  if (!existsSync(join(root, 'out', 'renderer', 'index.html'))) build();
  run(process.execPath, [join(root, 'bin', 'brainsynth.mjs'), 'serve', ...args]);
}

const electron = electronBinary();
if (!electron) {
  serve('Electron binary not installed (ELECTRON_SKIP_BINARY_DOWNLOAD?) - starting the browser bridge instead');
} else {
  const abiProblem = nativeModulesLoadIn(electron);
  if (abiProblem) {
    serve(
      `better-sqlite3 is not built for Electron (${abiProblem}). Rebuild it with ` +
        '`npx electron-builder install-app-deps` (or `npx @electron/rebuild -w better-sqlite3`); ' +
        'starting the browser bridge instead',
    );
  } else {
    if (!existsSync(join(root, 'out', 'main', 'index.js')) || !existsSync(join(root, 'out', 'renderer', 'index.html'))) build();
    say('opening the Electron app');
    const env = { ...process.env };
    delete env.ELECTRON_RUN_AS_NODE;
    run(electron, ['.', ...args], env);
  }
}

import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Where brainsynth keeps its database and artefacts ("home"). Precedence: an explicit --home,
 * then $BRAINSYNTH_HOME, then the OS per-user data folder.
 */
export interface HomeOptions {
  home?: string;
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  userHome?: string;
}

export function resolveHome(opts: HomeOptions = {}): string {
  const env = opts.env ?? process.env;
  if (opts.home && opts.home.trim() !== '') return resolve(opts.home);
  if (env.BRAINSYNTH_HOME && env.BRAINSYNTH_HOME.trim() !== '') return resolve(env.BRAINSYNTH_HOME);
  const platform = opts.platform ?? process.platform;
  const userHome = opts.userHome ?? homedir();
  if (platform === 'darwin') return join(userHome, 'Library', 'Application Support', 'brainsynth');
  if (platform === 'win32') return join(env.APPDATA ?? join(userHome, 'AppData', 'Roaming'), 'brainsynth');
  const xdg = env.XDG_DATA_HOME && env.XDG_DATA_HOME.trim() !== '' ? env.XDG_DATA_HOME : join(userHome, '.local', 'share');
  return join(xdg, 'brainsynth');
}

/** The fixed layout inside a home folder. */
export interface HomeLayout {
  root: string;
  dbPath: string;
  runsDir: string;
  datasetsDir: string;
  runDir(runId: number): string;
  datasetDir(datasetId: number): string;
}

export function homeLayout(root: string): HomeLayout {
  const abs = resolve(root);
  return {
    root: abs,
    dbPath: join(abs, 'brainsynth.db'),
    runsDir: join(abs, 'runs'),
    datasetsDir: join(abs, 'datasets'),
    runDir: (runId) => join(abs, 'runs', String(runId)),
    datasetDir: (datasetId) => join(abs, 'datasets', String(datasetId)),
  };
}

/** Creates the home folder and its fixed sub-folders (idempotent). */
export function ensureHome(layout: HomeLayout): HomeLayout {
  for (const dir of [layout.root, layout.runsDir, layout.datasetsDir]) mkdirSync(dir, { recursive: true });
  return layout;
}

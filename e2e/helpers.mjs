// Shared e2e helpers: start `brainsynth serve`, drive Debian's Chromium with playwright-core, and
// talk to the bridge from Node with the same typed client the renderer uses. Loaded through tsx
// (run.mjs passes `--import tsx`), so it can import the TypeScript contract directly.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';
import { howToInstall, locateChromium } from './chromium.mjs';
import { createApi } from '../src/shared/contract.ts';
import { bridgeTransport } from '../src/shared/bridge-client.ts';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const artifactsDir = join(repoRoot, 'e2e', 'artifacts');
export const LISTENING_PREFIX = 'brainsynth serve: listening on ';
export const CHROMIUM_PATH = locateChromium() ?? process.env.BRAINSYNTH_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Starts `node bin/brainsynth.mjs serve --home HOME --port 0` and resolves once it prints its URL.
 * With no `home`, a fresh temporary folder is used and removed on stop().
 */
export async function startServe({ home, timeoutMs = 60_000, extraArgs = [] } = {}) {
  const ownHome = !home;
  const homeDir = home ?? (await mkdtemp(join(tmpdir(), 'brainsynth-e2e-')));
  const child = spawn(process.execPath, ['bin/brainsynth.mjs', 'serve', '--home', homeDir, '--port', '0', ...extraArgs], {
    cwd: repoRoot,
    env: { ...process.env, BRAINSYNTH_HOME: homeDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
    if (process.env.BRAINSYNTH_E2E_VERBOSE) process.stderr.write(`[serve] ${chunk}`);
  });

  const url = await new Promise((resolveUrl, reject) => {
    let buffered = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`brainsynth serve printed no "${LISTENING_PREFIX}<url>" line within ${timeoutMs / 1000} s.\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      if (process.env.BRAINSYNTH_E2E_VERBOSE) process.stdout.write(`[serve] ${chunk}`);
      for (const line of buffered.split('\n')) {
        if (line.startsWith(LISTENING_PREFIX)) {
          clearTimeout(timer);
          resolveUrl(line.slice(LISTENING_PREFIX.length).trim());
          return;
        }
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`brainsynth serve exited (${signal ?? `code ${code}`}) before listening.\nstderr:\n${stderr}`));
    });
  });

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    if (ownHome) await rm(homeDir, { recursive: true, force: true });
  };
  return { url, home: homeDir, child, stop, stderr: () => stderr };
}

/** The URL of the server run.mjs started (the page URL including its `?token=`). */
export function serveUrl() {
  const url = process.env.BRAINSYNTH_E2E_URL;
  if (!url) throw new Error('BRAINSYNTH_E2E_URL is not set: run the e2e suite with `npm run test:e2e` (e2e/run.mjs)');
  return url;
}

/** Page URL with a hash route, keeping the token query: appUrl(base, '/runs/3'). */
export function appUrl(baseUrl, hashPath = '/experiments') {
  const url = new URL(baseUrl);
  url.hash = hashPath;
  return url.toString();
}

/**
 * A typed `Api` (the shared contract's client) over the bridge's WebSocket, from Node.
 * Sends the page's Origin, as a browser would, since the bridge refuses other origins.
 */
export function connectApi(baseUrl) {
  const page = new URL(baseUrl);
  const token = page.searchParams.get('token') ?? undefined;
  const origin = page.origin;
  class OriginWebSocket extends WebSocket {
    constructor(url) {
      super(url, { origin });
    }
  }
  const transport = bridgeTransport({
    url: `ws://${page.host}/api${token ? `?token=${encodeURIComponent(token)}` : ''}`,
    WebSocket: OriginWebSocket,
  });
  const api = createApi(transport);
  return { api, close: () => transport.close() };
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--enable-unsafe-swiftshader',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Launches Debian's Chromium (never a downloaded browser) with a fresh profile. Collects console
 * errors and page errors so tests can assert the page ran cleanly.
 */
export async function launchBrowser({ viewport = { width: 1440, height: 900 } } = {}) {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(howToInstall());
  }
  const userDataDir = await mkdtemp(join(tmpdir(), 'brainsynth-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport,
    colorScheme: 'dark',
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console.error: ${msg.text()}`);
  });
  const close = async () => {
    await context.close();
    await rm(userDataDir, { recursive: true, force: true });
  };
  return { context, page, problems, close };
}

/** Opens a route and waits until the status bar reports the connection to main. */
export async function openApp(page, baseUrl, hashPath = '/experiments') {
  await page.goto(appUrl(baseUrl, hashPath));
  await page.locator('[data-testid="connection-state"][data-status="connected"]').waitFor({ timeout: 15_000 });
}

export async function screenshot(page, name) {
  await mkdir(artifactsDir, { recursive: true });
  const path = join(artifactsDir, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  return path;
}

/** Row keys (run ids) of a DataTable in display order. */
export async function tableRowKeys(page, testId) {
  return page.locator(`[data-testid="${testId}"] tbody tr`).evaluateAll((rows) => rows.map((r) => r.getAttribute('data-row-key')));
}

/**
 * Creates a run with a training history: `steps` train losses decaying from `start`, a validation
 * loss every `valEvery` steps, then the given final status.
 */
export async function createRunWithMetrics(api, { steps = 50, start = 1, valEvery = 10, status = 'completed', error, ...create }) {
  const run = await api.runs.create(create);
  await api.runs.update({ id: run.id, status: 'running' });
  const points = [];
  for (let step = 0; step < steps; step++) {
    const loss = start * Math.exp(-step / (steps / 3)) + 0.01;
    points.push({ step, epoch: Math.floor(step / 10), name: 'loss', value: loss });
    points.push({ step, epoch: Math.floor(step / 10), name: 'l1_loss', value: loss * 0.6 });
    if ((step + 1) % valEvery === 0) points.push({ step, name: 'loss', split: 'validation', value: loss * 1.1 });
  }
  if (points.length) await api.metrics.append({ runId: run.id, points });
  if (status !== 'running') return api.runs.update({ id: run.id, status, ...(error ? { error } : {}) });
  return api.runs.get({ id: run.id });
}

/** Waits until a dataset job (phantom, import, prepare) has completed and answers it; throws when it fails or takes too long. */
export async function waitDataJob(api, jobId, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = (await api.datasets.jobs()).jobs.find((j) => j.jobId === jobId);
    if (job?.state === 'completed') return job;
    if (job?.state === 'failed') throw new Error(`dataset job ${jobId} failed: ${job.error}`);
    if (Date.now() > deadline) throw new Error(`dataset job ${jobId} did not finish within ${timeoutMs / 1000} s (${job?.phase})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Makes a phantom dataset (`phantom`: datasets.phantom's arguments) and prepares it (`prepare`: datasets.prepare's, less the id); answers its id. */
export async function preparedPhantom(api, phantom, prepare) {
  const { datasetId } = await waitDataJob(api, (await api.datasets.phantom(phantom)).jobId);
  await waitDataJob(api, (await api.datasets.prepare({ id: datasetId, ...prepare })).jobId);
  return datasetId;
}

/**
 * Registers the tiny random pipeline of test/sample/fixtures.ts (models at 40x56) in the server's
 * home as completed autoencoder -> ldm runs of the dataset named `tiny ae TAG` and `tiny ldm TAG`
 * and, given `controlnet` (the rest of its runs.create arguments: name, config), a ControlNet run
 * on top. Without it the ControlNet weights are still written, outside the runs folder. Answers
 * the created runs.
 */
export async function registerTinyPipeline(api, { datasetId, tag, controlnet }) {
  // Imported here, not above: the fixture loads the model code, which run.mjs (it imports this file too) has no use for.
  const { writeTinyPipeline } = await import('../test/sample/fixtures.ts');
  const home = process.env.BRAINSYNTH_E2E_HOME ?? (await api.app.info()).home;
  const ae = await api.runs.create({ stage: 'autoencoder', datasetId, name: `tiny ae ${tag}`, config: { stage: 'autoencoder' }, status: 'completed' });
  const ldm = await api.runs.create({ stage: 'ldm', datasetId, name: `tiny ldm ${tag}`, config: { stage: 'ldm' }, status: 'completed', parents: [{ runId: ae.id, role: 'autoencoder' }] });
  const cn = controlnet
    ? await api.runs.create({ stage: 'controlnet', datasetId, ...controlnet, status: 'completed', parents: [{ runId: ldm.id, role: 'ldm' }] })
    : null;
  const runDir = (id) => join(home, 'runs', String(id));
  writeTinyPipeline({ autoencoder: runDir(ae.id), ldm: runDir(ldm.id), controlnet: cn ? runDir(cn.id) : join(home, `unused-controlnet-${tag}`) });
  return { autoencoder: ae, ldm, controlnet: cn };
}

/**
 * Opening and switching subjects in the Data view's viewer, in headless Chromium (software WebGL)
 * against `brainsynth serve` with the open MS subjects of ../shared imported into a fresh home.
 *
 * Per trial (fresh browser profile): the dataset page, a click on the first subject (open), then
 * the subject links to the second and third (switch). Timed in the page from the click: until the
 * FLAIR viewer shows the subject, until both viewers do and the T1w value is read out; and how
 * long the page's main thread stood still meanwhile (a 50 ms heartbeat's longest gap, and the sum
 * of its gaps over 100 ms).
 *
 * A/B: BRAINSYNTH_BENCH_RENDERERS="before=/path/out/renderer,after=out/renderer" alternates builds
 * trial by trial (on a shared machine the load drifts; compare ratios, not absolute times).
 * BRAINSYNTH_BENCH_TRIALS sets the trials per build (default 2). Needs out/renderer (or the dirs
 * named), Chromium and ../shared/data/open-ms-mni.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BenchResult } from './_common';
import type { Api } from '../src/shared/contract';

interface Helpers {
  repoRoot: string;
  artifactsDir: string;
  startServe(o: { home?: string; extraArgs?: string[] }): Promise<{ url: string; stop(): Promise<void>; stderr(): string }>;
  connectApi(url: string): { api: Api; close(): void };
  launchBrowser(o: { viewport: { width: number; height: number } }): Promise<{ page: import('playwright-core').Page; close(): Promise<void>; problems: string[] }>;
  appUrl(base: string, hash: string): string;
}

interface Timing {
  flairMs: number;
  doneMs: number;
  maxGapMs: number;
  blockedMs: number;
  /** The build's own performance measures during the load (none in builds without them). */
  phases: Record<string, number | number[]>;
}

/** Installed before the app's scripts: a heartbeat, and a tracker that a click starts. */
const MONITOR = `(() => {
  const vt = { maxGap: 0, blocked: 0, last: performance.now() };
  setInterval(() => {
    const now = performance.now();
    const gap = now - vt.last;
    vt.last = now;
    if (gap > vt.maxGap) vt.maxGap = gap;
    if (gap > 100) vt.blocked += gap - 50;
  }, 50);
  // Clicks the element, then resolves when the subject's FLAIR shows and when both viewers do.
  window.__viewerTrack = (selector, label) => new Promise((resolve, reject) => {
    const target = document.querySelector(selector);
    if (!target) return reject(new Error('no element ' + selector));
    vt.maxGap = 0; vt.blocked = 0; vt.last = performance.now();
    const t0 = performance.now();
    let saw = false;
    let flair = null;
    const poll = setInterval(() => {
      const viewer = document.querySelector('[data-testid="subject-viewer"]');
      if (!viewer) return;
      const loading = viewer.getAttribute('data-loading') === 'true';
      const on = document.querySelector('.subject-nav a.on')?.textContent?.trim();
      if (loading && on === label) saw = true;
      if (!saw) return;
      const box = document.querySelector('[data-testid="viewer-flair"]')?.parentElement;
      const flairText = document.querySelector('[data-testid="viewer-loading-flair"]')?.textContent ?? '';
      // This build marks the shown viewer; an older one said "drawing T1w" once the FLAIR was up.
      if (flair === null && (box?.getAttribute('data-shown') === 'true' || /drawing T1w/.test(flairText))) flair = performance.now() - t0;
      const t1 = document.querySelector('[data-testid="readout-t1w"]')?.textContent?.trim();
      if (!loading && t1 && t1 !== '\\u2013') {
        clearInterval(poll);
        const done = performance.now() - t0;
        // This build's own marks (the viewer's load phases, NiiVue parse and GPU update), from the click.
        const phases = {};
        for (const e of performance.getEntriesByType('measure')) {
          if (e.startTime < t0 - 1) continue;
          const key = e.name.startsWith('niivue:') ? e.name : e.name + ' (end)';
          const value = e.name.startsWith('niivue:') ? e.duration : e.startTime + e.duration - t0;
          phases[key] = e.name.startsWith('niivue:') ? [...(phases[key] ?? []), Math.round(value)] : Math.round(value);
        }
        resolve({ flairMs: flair ?? done, doneMs: done, maxGapMs: vt.maxGap, blockedMs: vt.blocked, phases });
      }
    }, 20);
    setTimeout(() => { clearInterval(poll); reject(new Error('subject ' + label + ' did not load within 5 min')); }, 300000);
    target.click();
  });
})();`;

async function waitImport(api: Api, jobId: string): Promise<number> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const job = (await api.datasets.jobs()).jobs.find((j) => j.jobId === jobId);
    if (job?.state === 'completed' && job.datasetId !== null) return job.datasetId;
    if (job?.state === 'failed') throw new Error(`import failed: ${job.error}`);
    if (Date.now() > deadline) throw new Error('import did not finish within 5 min');
    await new Promise((r) => setTimeout(r, 300));
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export default async function (): Promise<{ description: string; results: BenchResult[] }> {
  // The e2e helpers are untyped .mjs: imported through a variable, typed by Helpers above.
  const helpersModule = '../e2e/helpers.mjs';
  const h = (await import(helpersModule)) as Helpers;
  const openMs = resolve(h.repoRoot, '..', 'shared', 'data', 'open-ms-mni');
  if (!existsSync(openMs)) throw new Error(`viewer bench: ${openMs} is missing (the open MS subjects)`);
  const renderers = (process.env.BRAINSYNTH_BENCH_RENDERERS ?? `current=${join(h.repoRoot, 'out', 'renderer')}`).split(',').map((pair) => {
    const [label, dir] = pair.split('=');
    if (!label || !dir || !existsSync(join(dir, 'index.html'))) throw new Error(`viewer bench: "${pair}" is not label=<built renderer dir with index.html>`);
    return { label, dir: resolve(dir) };
  });
  const trials = Number(process.env.BRAINSYNTH_BENCH_TRIALS ?? 2);
  const home = await mkdtemp(join(tmpdir(), 'brainsynth-bench-viewer-'));
  const load0 = loadavg()[0]!;
  const timings: Record<string, { open: Timing[]; switch: Timing[] }> = {};
  try {
    // One import; every trial's server then serves the same home.
    let datasetId: number;
    let labels: string[];
    {
      const server = await h.startServe({ home, extraArgs: ['--api-only'] });
      const client = h.connectApi(server.url);
      try {
        const job = await client.api.datasets.import({ dir: openMs, name: 'bench open-ms' });
        datasetId = await waitImport(client.api, job.jobId);
        labels = (await client.api.datasets.detail({ id: datasetId })).subjects.map((s) => s.label);
      } finally {
        client.close();
        await server.stop();
      }
    }
    if (labels.length < 3) throw new Error(`viewer bench: expected 3 open MS subjects, found ${labels.length}`);
    for (let trial = 0; trial < trials; trial++) {
      for (const r of renderers) {
        const server = await h.startServe({ home, extraArgs: ['--renderer', r.dir] });
        const browser = await h.launchBrowser({ viewport: { width: 1440, height: 900 } });
        try {
          const { page } = browser;
          await page.addInitScript(MONITOR);
          await page.goto(h.appUrl(server.url, `/data/${datasetId}`));
          await page.locator('[data-testid="subjects-table"] tbody tr').first().waitFor({ timeout: 60_000 });
          const rowIndex = await page.locator('[data-testid="subjects-table"] tbody tr').evaluateAll((rows, label) => rows.findIndex((row) => row.textContent?.includes(label)), labels[0]!);
          const track = (selector: string, label: string) =>
            page.evaluate(([s, l]) => (globalThis as unknown as { __viewerTrack(s: string, l: string): Promise<Timing> }).__viewerTrack(s!, l!), [selector, label]);
          const t = (timings[r.label] ??= { open: [], switch: [] });
          t.open.push(await track(`[data-testid="subjects-table"] tbody tr:nth-child(${rowIndex + 1})`, labels[0]!));
          for (const label of labels.slice(1, 3)) t.switch.push(await track(`.subject-nav a[data-subject="${label}"]`, label));
          await mkdir(h.artifactsDir, { recursive: true });
          if (trial === trials - 1) await page.screenshot({ path: join(h.artifactsDir, `bench-viewer-${r.label}.png`) });
          if (browser.problems.length) throw new Error(`viewer bench (${r.label}): the page reported ${browser.problems.join('; ')}`);
        } finally {
          await browser.close();
          await server.stop();
        }
      }
    }
  } finally {
    await rm(home, { recursive: true, force: true });
  }
  const results: BenchResult[] = [];
  for (const [label, t] of Object.entries(timings)) {
    for (const kind of ['open', 'switch'] as const) {
      const xs = t[kind];
      const detail = { samples: xs, loadavg1: { start: load0, end: loadavg()[0] } };
      results.push({ case: `${label}: ${kind}, FLAIR shown`, value: median(xs.map((x) => x.flairMs)) / 1000, unit: 's', detail });
      results.push({ case: `${label}: ${kind}, both shown`, value: median(xs.map((x) => x.doneMs)) / 1000, unit: 's', target: { op: '<=', value: 2 } });
      results.push({ case: `${label}: ${kind}, longest main-thread stall`, value: median(xs.map((x) => x.maxGapMs)) / 1000, unit: 's' });
      results.push({ case: `${label}: ${kind}, main thread blocked`, value: median(xs.map((x) => x.blockedMs)) / 1000, unit: 's' });
    }
  }
  return { description: 'Data view: open and switch open MS subjects in headless Chromium (software WebGL); medians over trials', results };
}

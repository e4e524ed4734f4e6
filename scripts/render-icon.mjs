#!/usr/bin/env node
// Renders resources/icon.svg to resources/icon.png (512x512, transparent corners) with the
// system Chromium, so the PNG the window and the packager use always matches the SVG source.
// Usage: node scripts/render-icon.mjs   (BRAINSYNTH_CHROMIUM overrides /usr/bin/chromium)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const svgPath = join(root, 'resources', 'icon.svg');
const pngPath = join(root, 'resources', 'icon.png');
const SIZE = 512;

const svg = readFileSync(svgPath, 'utf8');
const profile = mkdtempSync(join(tmpdir(), 'brainsynth-icon-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.BRAINSYNTH_CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  viewport: { width: SIZE, height: SIZE },
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await browser.newPage();
  await page.setContent(`<!doctype html><style>html,body{margin:0;background:transparent}svg{display:block;width:${SIZE}px;height:${SIZE}px}</style>${svg}`);
  await page.locator('svg').screenshot({ path: pngPath, omitBackground: true });
  console.log(`wrote ${pngPath}`);
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}

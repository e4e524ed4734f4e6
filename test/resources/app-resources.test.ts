import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';

// The resources/ folder: the metadata Electron main reads, the packaging config that repeats it,
// and the icon the window and the package use.
const root = resolve(__dirname, '..', '..');
const meta = JSON.parse(readFileSync(join(root, 'resources', 'app-meta.json'), 'utf8')) as {
  appId: string;
  productName: string;
  window: { width: number; height: number; minWidth: number; minHeight: number; backgroundColor: string };
};

describe('resources/', () => {
  it('names the app once: electron-builder.yml agrees with app-meta.json', () => {
    const builder = readFileSync(join(root, 'electron-builder.yml'), 'utf8');
    expect(builder).toMatch(new RegExp(`^appId: ${meta.appId.replace(/\./g, '\\.')}$`, 'm'));
    expect(builder).toMatch(new RegExp(`^productName: ${meta.productName}$`, 'm'));
    expect(meta.appId).toMatch(/^[a-z0-9]+(\.[a-z0-9-]+)+$/);
  });

  it('gives the window a size that fits its minimum', () => {
    expect(meta.window.width).toBeGreaterThanOrEqual(meta.window.minWidth);
    expect(meta.window.height).toBeGreaterThanOrEqual(meta.window.minHeight);
    expect(meta.window.backgroundColor).toMatch(/^#[0-9a-f]{6}$/i);
  });

  it('ships a square 512 px PNG icon with transparent corners and an SVG source', () => {
    const png = PNG.sync.read(readFileSync(join(root, 'resources', 'icon.png')));
    expect([png.width, png.height]).toEqual([512, 512]);
    const alphaAt = (x: number, y: number) => png.data[(y * png.width + x) * 4 + 3];
    expect(alphaAt(0, 0)).toBe(0);
    expect(alphaAt(256, 256)).toBe(255);
    expect(readFileSync(join(root, 'resources', 'icon.svg'), 'utf8')).toContain('<svg');
  });
});

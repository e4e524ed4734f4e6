/**
 * Packaging hardening, checked on paper: the Electron binary is not downloaded here, so the fuses
 * are checked in the builder config, and the dev-only switches in the code that reads them.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { devRendererUrl, devToolsAllowed } from '../../src/main/dev-mode';

/** The `key: value` pairs of one top-level block of a flat YAML file (comments dropped). */
function yamlBlock(text: string, block: string): Record<string, string> {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l === `${block}:`);
  expect(start, `${block}: block`).toBeGreaterThanOrEqual(0);
  const out: Record<string, string> = {};
  for (const line of lines.slice(start + 1)) {
    if (/^\S/.test(line)) break;
    const m = /^\s+([A-Za-z]+):\s*(\S+)\s*$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

describe('electron-builder config', () => {
  const config = readFileSync('electron-builder.yml', 'utf8');

  it('flips the security fuses: no run-as-node, encrypted cookies, asar integrity, app only from asar', () => {
    expect(yamlBlock(config, 'electronFuses')).toEqual({
      runAsNode: 'false',
      enableCookieEncryption: 'true',
      enableNodeOptionsEnvironmentVariable: 'false',
      enableNodeCliInspectArguments: 'false',
      enableEmbeddedAsarIntegrityValidation: 'true',
      onlyLoadAppFromAsar: 'true',
      grantFileProtocolExtraPrivileges: 'false',
    });
  });

  it('packs the app into an asar archive (the integrity and only-from-asar fuses need one) and ships only the build', () => {
    expect(config).toMatch(/^asar: true$/m);
    expect(config).not.toMatch(/disableIntegrity/);
    expect(config).toMatch(/^files:\n {2}- out\/\*\*\n {2}- package\.json$/m);
  });
});

describe('development-only switches', () => {
  it('honours ELECTRON_RENDERER_URL only unpackaged, and only for a loopback http server', () => {
    const env = (url: string) => ({ ELECTRON_RENDERER_URL: url });
    expect(devRendererUrl(false, env('http://localhost:5173'))).toBe('http://localhost:5173/');
    expect(devRendererUrl(false, env('http://127.0.0.1:5173/'))).toBe('http://127.0.0.1:5173/');
    expect(devRendererUrl(true, env('http://localhost:5173'))).toBeUndefined();
    for (const url of ['https://evil.example/', 'http://evil.example:5173/', 'file:///tmp/page.html', 'http://user:pw@localhost:5173/', 'not a url']) {
      expect(devRendererUrl(false, env(url)), url).toBeUndefined();
    }
    expect(devRendererUrl(false, {})).toBeUndefined();
  });

  it('allows DevTools only in unpackaged runs, and the window and the hardening both use that rule', () => {
    expect(devToolsAllowed(true)).toBe(false);
    expect(devToolsAllowed(false)).toBe(true);
    expect(readFileSync('src/main/index.ts', 'utf8')).toMatch(/devTools: devToolsAllowed\(app\.isPackaged\)/);
    expect(readFileSync('src/main/index.ts', 'utf8')).not.toMatch(/process\.env\.ELECTRON_RENDERER_URL/);
    expect(readFileSync('src/main/security.ts', 'utf8')).not.toMatch(/process\.env\.ELECTRON_RENDERER_URL/);
  });
});

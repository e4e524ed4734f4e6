import { describe, expect, it, vi } from 'vitest';

// The Electron binary is not installed here; the policy logic only needs these shapes.
vi.mock('electron', () => ({ app: { isPackaged: false, on: vi.fn() }, session: {}, shell: { openExternal: vi.fn() } }));

const { isTrustedSender, isTrustedUrl } = await import('../../src/main/security');
const { contentSecurityPolicy } = await import('../../src/backend/api/security-policy');

type Frame = Parameters<typeof isTrustedSender>[0];
const frame = (url: string, parent: unknown = null) => ({ url, parent }) as unknown as Frame;

describe('Electron security policy', () => {
  it('answers IPC only for our own top-level page', () => {
    expect(isTrustedSender(frame('app://brainsynth/index.html'))).toBe(true);
    expect(isTrustedSender(frame('app://brainsynth/index.html#/experiments'))).toBe(true);
    expect(isTrustedSender(frame('app://brainsynth/index.html', frame('app://brainsynth/')))).toBe(false); // an iframe
    expect(isTrustedSender(frame('https://evil.example/'))).toBe(false);
    expect(isTrustedSender(frame('app://other/index.html'))).toBe(false);
    expect(isTrustedSender(frame('file:///etc/passwd'))).toBe(false);
    expect(isTrustedSender(null)).toBe(false);
  });

  it('trusts the dev server only when ELECTRON_RENDERER_URL names it', () => {
    expect(isTrustedUrl('http://localhost:5173/')).toBe(false);
    vi.stubEnv('ELECTRON_RENDERER_URL', 'http://localhost:5173');
    try {
      expect(isTrustedUrl('http://localhost:5173/index.html')).toBe(true);
      expect(isTrustedUrl('http://localhost:5174/')).toBe(false);
    } finally {
      vi.unstubAllEnvs();
    }
    expect(isTrustedUrl('not a url')).toBe(false);
  });

  it('CSP allows only our scripts (plus WebAssembly), never eval or remote code', () => {
    const csp = contentSecurityPolicy();
    const directive = (name: string) => csp.split('; ').find((d) => d.startsWith(`${name} `));
    expect(directive('script-src')).toBe("script-src 'self' 'wasm-unsafe-eval'");
    expect(directive('default-src')).toBe("default-src 'self'");
    expect(directive('object-src')).toBe("object-src 'none'");
    expect(directive('img-src')).toContain('blob:');
    expect(csp).not.toMatch(/'unsafe-eval'|\*|https?:/);
  });
});

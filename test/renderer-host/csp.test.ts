import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { contentSecurityPolicy } from '../../src/backend/api/security-policy';

// Lives outside test/renderer because it reads files and imports main-process code (Node types).
function directives(policy: string): Map<string, string> {
  return new Map(
    policy
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((parts) => parts[0])
      .map(([name, ...values]) => [name!, values.sort().join(' ')]),
  );
}

describe('renderer index.html', () => {
  const html = readFileSync(join(__dirname, '../../src/renderer/index.html'), 'utf8');

  it('carries the same CSP as the hosts send, minus header-only directives', () => {
    const meta = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1];
    expect(meta, 'index.html has a CSP meta tag').toBeDefined();
    const expected = directives(contentSecurityPolicy());
    expected.delete('frame-ancestors'); // ignored (with a console error) when delivered by <meta>
    expect(directives(meta!)).toEqual(expected);
  });

  it('has no inline scripts', () => {
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [, attrs, body] of scripts) {
      expect(attrs).toMatch(/\bsrc="/);
      expect(body!.trim()).toBe('');
    }
  });
});

import { existsSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** MIME types for what the built renderer contains. */
const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.ttf': 'font/ttf',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.nii': 'application/octet-stream',
  '.gz': 'application/gzip',
};

export function mimeType(path: string): string {
  return MIME[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * Maps a URL path to a file inside `root`, refusing anything that escapes it (`..`, encoded
 * separators). Unknown paths without an extension fall back to index.html (client-side routes).
 */
export function resolveStaticPath(root: string, urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath.split('?')[0]!.split('#')[0]!);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const base = resolve(root);
  const candidate = resolve(base, '.' + normalize('/' + decoded));
  if (!inside(base, candidate)) return undefined;
  if (existsSync(candidate)) {
    // A symlink inside the folder may lead anywhere: what is served must really live in the root.
    const real = realpathSync(candidate);
    if (!inside(realRoot(base), real)) return undefined;
    if (statSync(real).isFile()) return real;
  }
  if (candidate === base || extname(candidate) === '') {
    const index = join(base, 'index.html');
    if (!existsSync(index)) return undefined;
    const real = realpathSync(index);
    return inside(realRoot(base), real) && statSync(real).isFile() ? real : undefined;
  }
  return undefined;
}

function inside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

function realRoot(base: string): string {
  try {
    return realpathSync(base);
  } catch {
    return base;
  }
}

/**
 * The built renderer folder (out/renderer from `npx electron-vite build`): next to this module
 * when bundled (out/main -> out/renderer), or under the repo root when run from sources by tsx.
 */
export function defaultRendererDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const bundled = basename(here) === 'main' && basename(dirname(here)) === 'out';
  return bundled ? resolve(here, '../renderer') : resolve(here, '../../../out/renderer');
}

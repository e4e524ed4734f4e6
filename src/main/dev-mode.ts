/**
 * What a development run may do that a packaged app must not. Kept free of Electron imports so
 * the rules are tested in plain Node; callers pass app.isPackaged.
 */

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * The vite dev server to load instead of app://brainsynth: only in an unpackaged run, and only an
 * http URL on this machine. A packaged app ignores ELECTRON_RENDERER_URL entirely, so an
 * environment variable cannot point the privileged window at someone else's page.
 */
export function devRendererUrl(isPackaged: boolean, env: Record<string, string | undefined> = process.env): string | undefined {
  if (isPackaged) return undefined;
  const raw = env.ELECTRON_RENDERER_URL;
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' || !LOOPBACK_HOSTS.has(url.hostname) || url.username || url.password) return undefined;
  return url.href;
}

/** DevTools exist for development only: a packaged window cannot open them. */
export function devToolsAllowed(isPackaged: boolean): boolean {
  return !isPackaged;
}

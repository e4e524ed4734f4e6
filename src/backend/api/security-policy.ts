/**
 * The Content-Security-Policy both hosts send with the renderer (Electron's app:// protocol and
 * the browser bridge). Pure data, no Electron import, so the bridge can use it under plain Node.
 *
 * - scripts: only our bundle; 'wasm-unsafe-eval' lets tfjs-backend-wasm / NiiVue compile
 *   WebAssembly without allowing JS eval.
 * - styles: 'unsafe-inline' because Vue and NiiVue set inline style attributes.
 * - images/media: data:/blob: for slices and volumes built from API responses.
 * - connect: the bridge's own origin (HTTP + its WebSocket), nothing else.
 */
export function contentSecurityPolicy(opts: { connectSrc?: string[] } = {}): string {
  const directives: Record<string, string[]> = {
    'default-src': ["'self'"],
    'script-src': ["'self'", "'wasm-unsafe-eval'"],
    'style-src': ["'self'", "'unsafe-inline'"],
    'img-src': ["'self'", 'data:', 'blob:'],
    'media-src': ["'self'", 'data:', 'blob:'],
    'font-src': ["'self'", 'data:'],
    'connect-src': ["'self'", 'data:', 'blob:', ...(opts.connectSrc ?? [])],
    'worker-src': ["'self'", 'blob:'],
    'object-src': ["'none'"],
    'base-uri': ["'none'"],
    'form-action': ["'none'"],
    'frame-ancestors': ["'none'"],
    'frame-src': ["'none'"],
  };
  return Object.entries(directives)
    .map(([name, values]) => `${name} ${values.join(' ')}`)
    .join('; ');
}

/** Extra headers both hosts send with every renderer response. */
export function securityHeaders(csp: string): Record<string, string> {
  return {
    'Content-Security-Policy': csp,
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
  };
}

/** The scheme and host our packaged renderer is served from inside Electron. */
export const APP_SCHEME = 'app';
export const APP_HOST = 'brainsynth';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;

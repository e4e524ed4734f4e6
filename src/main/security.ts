import { app, session, shell, type WebContents, type WebFrameMain } from 'electron';
import { APP_ORIGIN } from '../backend/api/security-policy';
import { devRendererUrl, devToolsAllowed } from './dev-mode';

/**
 * Electron hardening, applied to every web contents the app creates: our page is the only
 * thing that may run, navigate, or talk to main.
 */

/** Origins our renderer is served from: app://brainsynth, or the vite dev server in `npm run dev`. */
export function trustedOrigins(): string[] {
  const origins = [APP_ORIGIN];
  const dev = devRendererUrl(app.isPackaged);
  if (dev) origins.push(new URL(dev).origin);
  return origins;
}

export function isTrustedUrl(url: string): boolean {
  try {
    const { origin, protocol, host } = new URL(url);
    // WHATWG URL gives custom schemes an opaque "null" origin; compare scheme + host instead.
    const normalized = origin === 'null' ? `${protocol}//${host}` : origin;
    return trustedOrigins().includes(normalized);
  } catch {
    return false;
  }
}

/** IPC is only answered for our own top-level page (not iframes, not navigated-away frames). */
export function isTrustedSender(frame: WebFrameMain | null | undefined): boolean {
  if (!frame) return false;
  if (frame.parent !== null) return false;
  return isTrustedUrl(frame.url);
}

function harden(contents: WebContents): void {
  contents.on('will-navigate', (event, url) => {
    if (!isTrustedUrl(url)) event.preventDefault();
  });
  contents.on('will-redirect', (event, url) => {
    if (!isTrustedUrl(url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  // webPreferences.devTools is already off when packaged; this also covers any other web contents.
  if (!devToolsAllowed(app.isPackaged)) contents.on('devtools-opened', () => contents.closeDevTools());
  contents.setWindowOpenHandler(({ url }) => {
    // No new windows ever; https links (e.g. dataset citations) open in the system browser.
    if (/^https:\/\//.test(url)) void shell.openExternal(url);
    return { action: 'deny' };
  });
}

export function installSecurityPolicy(): void {
  app.on('web-contents-created', (_event, contents) => harden(contents));
  // The workstation needs no camera, microphone, geolocation, notifications, ...
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
}

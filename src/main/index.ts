import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, protocol } from 'electron';
import { channels, type ChannelName } from '../shared/contract';
import { IPC_EVENT_PREFIX, IPC_INVOKE_PREFIX } from '../shared/ipc-names';
import { openBackend, type Services } from '../backend';
import { watchExternalRunChanges } from '../backend/runs/external-changes';
import { setJobWorkerEntry } from '../backend/jobs/host';
import { electronJobWorkerPath } from './job-worker';
import { volumeResponse, VOLUMES_PATH_PREFIX } from '../backend/data/volume-files';
import { createDispatch, createHandlers } from '../backend/api/handlers';
import { APP_ID, PRODUCT_NAME, WINDOW_DEFAULTS, windowIconPath } from './app-resources';
import { installSecurityPolicy, isTrustedSender } from './security';
import { APP_HOST, APP_ORIGIN, APP_SCHEME, contentSecurityPolicy, securityHeaders } from '../backend/api/security-policy';
import { defaultRendererDir, mimeType, resolveStaticPath } from '../backend/bridge/static-files';
import { devRendererUrl, devToolsAllowed } from './dev-mode';
import { pickFolderHandler } from './pick-folder';

/**
 * Electron main: one window on our app:// page, the services from the shared composition root,
 * one ipcMain handler per contract channel, and push events forwarded to the window.
 */

// Must run before `ready`: app:// behaves like an https origin (fetch, CSP, secure context).
protocol.registerSchemesAsPrivileged([
  { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true } },
]);

function homeFromArgv(argv: readonly string[]): string | undefined {
  const i = argv.indexOf('--home');
  if (i >= 0 && argv[i + 1]) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith('--home='));
  return eq?.slice('--home='.length);
}

function serveRenderer(services: Services): void {
  const root = defaultRendererDir();
  const headers = securityHeaders(contentSecurityPolicy());
  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url);
    // Volume bytes for the NiiVue viewers (files looked up by id in the store, never by URL path).
    if (url.host === APP_HOST && url.pathname.startsWith(VOLUMES_PATH_PREFIX)) return volumeResponse(services.store.db, url.pathname, headers);
    const file = url.host === APP_HOST ? resolveStaticPath(root, url.pathname) : undefined;
    if (!file) return new Response('not found', { status: 404, headers });
    return new Response(await readFile(file), { headers: { ...headers, 'Content-Type': mimeType(file) } });
  });
}

function registerIpc(services: Services): void {
  const dispatch = createDispatch({
    ...createHandlers({ services, host: 'electron' }),
    // The native dialog exists only here; the shared handler answers "unsupported".
    'app.pickFolder': pickFolderHandler(dialog, () => BrowserWindow.getFocusedWindow() ?? BrowserWindow.getAllWindows()[0] ?? null),
  });
  for (const name of Object.keys(channels) as ChannelName[]) {
    ipcMain.handle(IPC_INVOKE_PREFIX + name, (event, payload: unknown) => {
      if (!isTrustedSender(event.senderFrame)) {
        return { ok: false, error: { code: 'failed', channel: name, message: `${name}: refused: sender is not the brainsynth page` } };
      }
      return dispatch(name, payload);
    });
  }
  // Runs a CLI writes to the same home reach the window as push events too (the timer is unref'd).
  watchExternalRunChanges(services);
  services.events.onAny((event, payload) => {
    for (const win of BrowserWindow.getAllWindows()) {
      if (!win.isDestroyed()) win.webContents.send(IPC_EVENT_PREFIX + String(event), payload);
    }
  });
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    ...WINDOW_DEFAULTS,
    show: false,
    title: PRODUCT_NAME,
    icon: windowIconPath(process.resourcesPath),
    webPreferences: {
      preload: fileURLToPath(new URL('../preload/index.cjs', import.meta.url)),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
      // Middle-click would open links in new windows, bypassing setWindowOpenHandler's intent.
      disableBlinkFeatures: 'Auxclick',
      devTools: devToolsAllowed(app.isPackaged),
    },
  });
  win.once('ready-to-show', () => win.show());
  void win.loadURL(devRendererUrl(app.isPackaged) ?? `${APP_ORIGIN}/index.html`);
  return win;
}

async function start(): Promise<void> {
  // The name the OS shows (menus, task switcher); the id groups its windows on Windows.
  app.setName(PRODUCT_NAME);
  if (process.platform === 'win32') app.setAppUserModelId(APP_ID);
  await app.whenReady();
  installSecurityPolicy();
  let services: Services;
  try {
    setJobWorkerEntry(electronJobWorkerPath);
    services = openBackend({ home: homeFromArgv(process.argv) });
  } catch (err) {
    dialog.showErrorBox('brainsynth cannot open its database', err instanceof Error ? err.message : String(err));
    app.exit(1);
    return;
  }
  serveRenderer(services);
  registerIpc(services);
  createWindow();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow();
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  app.on('will-quit', () => services.close());
}

void start();

import { describe, expect, it } from 'vitest';
import type { BrowserWindow, OpenDialogOptions, OpenDialogReturnValue } from 'electron';
import { pickFolderHandler, type FolderDialog } from '../../src/main/pick-folder';
import { createHandlers } from '../../src/backend/api/handlers';
import type { Services } from '../../src/backend';

/** A stand-in for Electron's dialog: records what it was asked and answers as told. */
function fakeDialog(answer: OpenDialogReturnValue) {
  const calls: { window: BrowserWindow | null; options: OpenDialogOptions }[] = [];
  const dialog = {
    showOpenDialog: (a: BrowserWindow | OpenDialogOptions, b?: OpenDialogOptions) => {
      calls.push(b ? { window: a as BrowserWindow, options: b } : { window: null, options: a as OpenDialogOptions });
      return Promise.resolve(answer);
    },
  } as FolderDialog;
  return { dialog, calls };
}

const window = { id: 1 } as unknown as BrowserWindow;

describe('app.pickFolder in Electron main', () => {
  it('opens a directory dialog on the app window and answers the chosen folder', async () => {
    const { dialog, calls } = fakeDialog({ canceled: false, filePaths: ['/data/study'] });
    const answer = await pickFolderHandler(dialog, () => window)({ title: 'Import a study', defaultPath: '/data' });
    expect(answer).toEqual({ supported: true, path: '/data/study' });
    expect(calls).toHaveLength(1);
    expect(calls[0]!.window).toBe(window);
    expect(calls[0]!.options).toEqual({ title: 'Import a study', defaultPath: '/data', properties: ['openDirectory'] });
  });

  it('answers no path when the dialog is cancelled', async () => {
    const { dialog } = fakeDialog({ canceled: true, filePaths: [] });
    expect(await pickFolderHandler(dialog, () => window)({})).toEqual({ supported: true, path: null });
  });

  it('opens an unattached dialog when no window exists', async () => {
    const { dialog, calls } = fakeDialog({ canceled: false, filePaths: ['/x'] });
    await pickFolderHandler(dialog, () => null)({});
    expect(calls[0]!.window).toBeNull();
    expect(calls[0]!.options.properties).toEqual(['openDirectory']);
  });
});

describe('app.pickFolder outside Electron', () => {
  // Neither handler touches the services.
  const services = {} as Services;

  it('the shared handler answers unsupported, and app.info says so', async () => {
    const h = createHandlers({ services, host: 'bridge' });
    expect(await h['app.pickFolder']({})).toEqual({ supported: false, path: null });
  });

  it('app.info offers the picker only where Electron main answers it', () => {
    const fakeServices = { home: { root: '/h', dbPath: '/h/db' }, store: { schemaVersion: 1 } } as unknown as Services;
    expect(createHandlers({ services: fakeServices, host: 'bridge' })['app.info']({})).toMatchObject({ canPickFolder: false });
    expect(createHandlers({ services: fakeServices, host: 'electron' })['app.info']({})).toMatchObject({ canPickFolder: true });
  });
});

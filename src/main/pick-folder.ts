import type { BrowserWindow, OpenDialogOptions, OpenDialogReturnValue } from 'electron';
import type { Handler } from '../backend/api/handler-types';

/**
 * 'app.pickFolder' in Electron: the native folder dialog, attached to the app window so it is
 * modal to it. The back end's own handler answers "unsupported" (a browser page cannot open one);
 * main puts this one over it. The dialog comes in as a parameter so a test can stand in for it.
 */
export interface FolderDialog {
  showOpenDialog(window: BrowserWindow, options: OpenDialogOptions): Promise<OpenDialogReturnValue>;
  showOpenDialog(options: OpenDialogOptions): Promise<OpenDialogReturnValue>;
}

export function pickFolderHandler(dialog: FolderDialog, window: () => BrowserWindow | null): Handler<'app.pickFolder'> {
  return async (req) => {
    const options: OpenDialogOptions = {
      title: req.title ?? 'Choose a folder',
      properties: ['openDirectory'],
      ...(req.defaultPath ? { defaultPath: req.defaultPath } : {}),
    };
    const win = window();
    const result = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
    return { supported: true, path: result.canceled ? null : (result.filePaths[0] ?? null) };
  };
}

import { contextBridge, ipcRenderer } from 'electron';
import { createApi, type Transport } from '../shared/contract';
import { IPC_EVENT_PREFIX, IPC_INVOKE_PREFIX } from '../shared/ipc-names';
import { withReaderErrors } from '../shared/reader-errors';

/**
 * The one narrow bridge between the sandboxed renderer and main: `window.api`, built from the
 * shared contract over ipcRenderer. Nothing else from Electron or Node reaches the page.
 */
const transport: Transport = {
  invoke: (channel, payload) => ipcRenderer.invoke(IPC_INVOKE_PREFIX + channel, payload),
  subscribe(event, listener) {
    const name = IPC_EVENT_PREFIX + event;
    // Strip the IpcRendererEvent: the page must never see the sender object.
    const handler = (_event: unknown, payload: unknown) => listener(payload);
    ipcRenderer.on(name, handler);
    return () => {
      ipcRenderer.removeListener(name, handler);
    };
  },
};

contextBridge.exposeInMainWorld('api', createApi(withReaderErrors(transport)));

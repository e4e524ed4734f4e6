import type { Api } from './contract';

declare global {
  interface Window {
    /** Set by the Electron preload, or by the renderer itself from bridgeTransport() in a browser. */
    api: Api;
  }
}

export {};

import { createApp } from 'vue';
import { createApi } from '../../shared/contract';
import { bridgeTransport } from '../../shared/bridge-client';
import { withReaderErrors } from '../../shared/reader-errors';
import App from './App.vue';
import { watchBridge } from './api/bridge-status';
import { router } from './router';
import './styles/theme.css';

// In Electron the preload has already exposed `window.api`; in a plain browser (`brainsynth serve`)
// the same typed API is built over the bridge's WebSocket, with the token from the page URL.
let bootError: string | null = null;
if (!window.api) {
  try {
    const transport = bridgeTransport();
    watchBridge(transport);
    window.api = createApi(withReaderErrors(transport));
  } catch (err) {
    // Leave window.api unset and say why on the page rather than showing a blank window.
    bootError = err instanceof Error ? err.message : String(err);
  }
}

createApp(App, { bootError }).use(router).mount('#app');

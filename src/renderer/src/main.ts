import { createApp } from 'vue';
import { createApi } from '../../shared/contract';
import { bridgeTransport } from '../../shared/bridge-client';
import App from './App.vue';
import { startRouter } from './router';
import './styles/theme.css';

// In Electron the preload has already exposed `window.api`; in a plain browser (`brainsynth serve`)
// the same typed API is built over the bridge's WebSocket, with the token from the page URL.
if (!window.api) {
  try {
    window.api = createApi(bridgeTransport());
  } catch (err) {
    // Leave window.api unset: the status bar and views report the problem instead of a blank page.
    console.error(err);
  }
}

startRouter();
createApp(App).mount('#app');

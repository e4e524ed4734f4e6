/// <reference types="vite/client" />
// `window.api` is declared once, next to the contract, in src/shared/window-api.d.ts.

declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  const component: DefineComponent<object, object, unknown>;
  export default component;
}

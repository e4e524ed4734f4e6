import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import meta from '../../resources/app-meta.json';

/**
 * What the window and the packaged app show of themselves, from the top-level resources/ folder:
 * the app id and product name (also used by electron-builder.yml), the first window's size and
 * background, and the icon.
 */
export const APP_ID: string = meta.appId;
export const PRODUCT_NAME: string = meta.productName;
export const WINDOW_DEFAULTS = meta.window;

/**
 * The window icon: resources/icon.png next to the built main bundle (out/main -> ../../resources)
 * or, in a packaged app, in its resources folder. Undefined when neither exists, so a missing icon
 * never stops the window from opening.
 */
export function windowIconPath(resourcesPath?: string): string | undefined {
  const candidates = [fileURLToPath(new URL('../../resources/icon.png', import.meta.url))];
  if (resourcesPath) candidates.push(`${resourcesPath}/icon.png`);
  return candidates.find((p) => existsSync(p));
}

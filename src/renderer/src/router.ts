import { readonly, ref } from 'vue';

/**
 * A tiny hash router: four top-level views plus a run page. Hash routing keeps every URL valid for
 * both the Electron file:// page and the bridge's static server (no server-side fallback needed).
 */
export type Route =
  | { name: 'data' }
  | { name: 'train' }
  | { name: 'generate' }
  | { name: 'experiments' }
  | { name: 'run'; runId: number }
  | { name: 'not-found'; path: string };

export const DEFAULT_PATH = '/data';

export function parseHash(hash: string): Route {
  const path = hash.replace(/^#/, '') || DEFAULT_PATH;
  const segments = path.split('/').filter(Boolean);
  const [head, id] = segments;
  if (segments.length === 1 && (head === 'data' || head === 'train' || head === 'generate' || head === 'experiments')) {
    return { name: head };
  }
  if (segments.length === 2 && head === 'runs' && id !== undefined && /^[1-9]\d*$/.test(id)) {
    return { name: 'run', runId: Number(id) };
  }
  return { name: 'not-found', path };
}

export function hrefFor(route: Route): string {
  switch (route.name) {
    case 'run':
      return `#/runs/${route.runId}`;
    case 'not-found':
      return `#${DEFAULT_PATH}`;
    default:
      return `#/${route.name}`;
  }
}

const current = ref<Route>(parseHash(typeof location === 'undefined' ? '' : location.hash));

export function startRouter(): void {
  if (!location.hash) history.replaceState(null, '', `#${DEFAULT_PATH}`);
  current.value = parseHash(location.hash);
  window.addEventListener('hashchange', () => {
    current.value = parseHash(location.hash);
  });
}

export function navigate(route: Route): void {
  location.hash = hrefFor(route);
}

export const route = readonly(current);

import { readonly, ref } from 'vue';

/**
 * A tiny hash router: four top-level views plus a run page. Hash routing keeps every URL valid for
 * both the Electron file:// page and the bridge's static server (no server-side fallback needed).
 */
export type Route =
  | { name: 'data'; datasetId?: number; subject?: string }
  | { name: 'train' }
  | { name: 'generate' }
  | { name: 'experiments' }
  | { name: 'run'; runId: number }
  | { name: 'not-found'; path: string };

export const DEFAULT_PATH = '/data';

export function parseHash(hash: string): Route {
  // A query after the path (e.g. #/generate?dataset=1&z=90) is for the view, not the route.
  const path = hash.replace(/^#/, '').split('?')[0] || DEFAULT_PATH;
  const segments = path.split('/').filter(Boolean);
  const [head, id] = segments;
  // Data view: #/data/<datasetId>[/<subject label>]
  if (head === 'data' && id !== undefined && /^[1-9]\d*$/.test(id) && segments.length <= 3) {
    const subject = segments[2] === undefined ? undefined : safeDecode(segments[2]);
    if (subject !== null) return { name: 'data', datasetId: Number(id), ...(subject !== undefined ? { subject } : {}) };
  }
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
    case 'data':
      if (route.datasetId === undefined) return '#/data';
      return `#/data/${route.datasetId}${route.subject !== undefined ? `/${encodeURIComponent(route.subject)}` : ''}`;
    case 'not-found':
      return `#${DEFAULT_PATH}`;
    default:
      return `#/${route.name}`;
  }
}

function safeDecode(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
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

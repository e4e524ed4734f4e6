import type { Component } from 'vue';
import { createRouter, createWebHashHistory, type RouteMeta, type RouteParamsGeneric, type Router, type RouterHistory, type RouteRecordNameGeneric, type RouteRecordRaw } from 'vue-router';

/**
 * The page addresses, as vue-router records. Hash history keeps every URL valid for both the
 * Electron app:// page and the bridge's static server (no server-side fallback needed):
 *   #/data, #/data/<datasetId>[/<subject label>], #/train, #/generate[?slice query],
 *   #/experiments, #/runs/<runId>; anything else shows the not-found page.
 * The views are passed in, so the table can be checked without compiling .vue files.
 */
export type NavName = 'data' | 'train' | 'generate' | 'experiments';
export type ViewName = NavName | 'run' | 'not-found';

declare module 'vue-router' {
  interface RouteMeta {
    /** The sidebar entry that is lit on this page. */
    nav?: NavName;
    /** The page's name in the window title. */
    title?: string;
  }
}

export const DEFAULT_PATH = '/data';

/** What the helpers below read of a route (the current route, or one from router.resolve). */
export interface PageLocation {
  name?: RouteRecordNameGeneric | null;
  params: RouteParamsGeneric;
  meta: RouteMeta;
}

/** A positive integer without leading zeros, as ids are written in URLs. */
const ID = '([1-9]\\d*)';

export function routeRecords(views: Record<ViewName, Component>): RouteRecordRaw[] {
  return [
    { path: '/', redirect: DEFAULT_PATH },
    { path: '/data', name: 'data', component: views.data, meta: { nav: 'data', title: 'Data' } },
    { path: `/data/:datasetId${ID}/:subject?`, name: 'dataset', component: views.data, meta: { nav: 'data', title: 'Data' } },
    { path: '/train', name: 'train', component: views.train, meta: { nav: 'train', title: 'Train' } },
    { path: '/generate', name: 'generate', component: views.generate, meta: { nav: 'generate', title: 'Generate' } },
    { path: '/experiments', name: 'experiments', component: views.experiments, meta: { nav: 'experiments', title: 'Experiments' } },
    {
      path: `/runs/:runId${ID}`,
      name: 'run',
      component: views.run,
      props: (to) => ({ runId: Number(to.params.runId) }),
      meta: { nav: 'experiments' },
    },
    { path: '/:unknown(.*)*', name: 'not-found', component: views['not-found'], props: (to) => ({ path: to.path }), meta: { title: 'Not found' } },
  ];
}

export function createAppRouter(views: Record<ViewName, Component>, history: RouterHistory = createWebHashHistory()): Router {
  return createRouter({ history, routes: routeRecords(views) });
}

/** The Data view's selection: #/data/<datasetId>[/<subject label>]. */
export function dataSelection(route: PageLocation): { datasetId?: number; subject?: string } {
  if (route.name !== 'dataset') return {};
  const { datasetId, subject } = route.params;
  return {
    datasetId: Number(datasetId),
    ...(typeof subject === 'string' && subject !== '' ? { subject } : {}),
  };
}

/** The window title: the page's name, or the run number on a run page. */
export function pageTitle(route: PageLocation): string {
  const page = route.name === 'run' ? `Run #${String(route.params.runId)}` : (route.meta.title ?? 'Not found');
  return `${page} · brainsynth`;
}

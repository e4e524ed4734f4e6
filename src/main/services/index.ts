import { ensureHome, homeLayout, resolveHome, type HomeLayout } from './home';
import { openStore, type Store, type StoreOptions } from './store';
import { EventHub } from './events';

/**
 * The composition root shared by the Electron main process, the browser bridge and the CLI:
 * one home folder, one store, one event hub and the services over them.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface PushEventMap {}

export interface Services {
  home: HomeLayout;
  store: Store;
  events: EventHub<PushEventMap>;
  close(): void;
}

export interface OpenServicesOptions {
  /** Explicit home folder (--home); falls back to $BRAINSYNTH_HOME, then the OS data folder. */
  home?: string;
  store?: StoreOptions;
}

export function openServices(opts: OpenServicesOptions | string = {}): Services {
  const options = typeof opts === 'string' ? { home: opts } : opts;
  const home = ensureHome(homeLayout(resolveHome({ home: options.home })));
  const store = openStore(home.dbPath, options.store);
  const events = new EventHub<PushEventMap>();
  return {
    home,
    store,
    events,
    close: () => store.close(),
  };
}

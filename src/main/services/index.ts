import type { EventMap } from '../../shared/contract';
import { ensureHome, homeLayout, resolveHome, type HomeLayout } from './home';
import { openStore, type Store, type StoreOptions } from './store';
import { getDataset, listDatasets } from './store/dataset-rows';
import { EventHub } from './events';
import { RunsService } from './runs';
import { MetricsService } from './metrics';
import { CheckpointsService } from './checkpoints';
import { ArtefactsService } from './artefacts';
import { ExperimentsService } from './experiments';
import { JobsService } from './jobs';
import { DataJobHost } from './data-jobs';
import { homeTempDirs, sweepStaleTemp } from '../stale-temp';

/**
 * The composition root shared by the Electron main process, the browser bridge and the CLI:
 * one home folder, one store, one event hub and the services over them. Later capabilities
 * (dataset import, training jobs, generation) add their service here.
 */
export interface Services {
  home: HomeLayout;
  store: Store;
  events: EventHub<EventMap>;
  runs: RunsService;
  metrics: MetricsService;
  checkpoints: CheckpointsService;
  artefacts: ArtefactsService;
  experiments: ExperimentsService;
  datasets: { list: () => ReturnType<typeof listDatasets>; get: (id: number) => ReturnType<typeof getDataset> };
  /** Training jobs (one queue per process, worker threads). */
  jobs: JobsService;
  /** Dataset import/phantom/prepare/fetch jobs (one queue, worker threads). */
  dataJobs: DataJobHost;
  /**
   * Registers a release step for something created on demand over this root (e.g. the sampling
   * job host); close() runs them, newest first, before the store closes.
   */
  onClose(fn: () => unknown): void;
  /** Releases every worker and host this root owns, then the store; idempotent. */
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
  sweepStaleTemp(homeTempDirs(home));
  const store = openStore(home.dbPath, options.store);
  const events = new EventHub<EventMap>();
  const metrics = new MetricsService(store, events);
  const closers: (() => unknown)[] = [];
  let closed = false;
  const services: Services = {
    home,
    store,
    events,
    runs: new RunsService(store, events, metrics),
    metrics,
    checkpoints: new CheckpointsService(store),
    artefacts: new ArtefactsService(store),
    experiments: new ExperimentsService(store),
    datasets: { list: () => listDatasets(store), get: (id) => getDataset(store, id) },
    jobs: undefined as unknown as JobsService,
    dataJobs: new DataJobHost(store, home, events),
    onClose: (fn) => {
      if (closed) throw new Error('the services are closed');
      closers.push(fn);
    },
    close: () => {
      if (closed) return;
      closed = true;
      // Each host records its own ended jobs synchronously, so all run before the store closes.
      for (const fn of closers.splice(0).reverse()) fn();
      services.dataJobs.close();
      services.jobs.closeSync();
      store.close();
    },
  };
  services.jobs = new JobsService(services);
  return services;
}

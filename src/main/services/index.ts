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
  const events = new EventHub<EventMap>();
  const metrics = new MetricsService(store, events);
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
    close: () => {
      services.dataJobs.close();
      services.jobs.closeSync();
      store.close();
    },
  };
  services.jobs = new JobsService(services);
  return services;
}

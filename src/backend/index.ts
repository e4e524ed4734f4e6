import { accessSync, constants, existsSync } from 'node:fs';
import { homeTempDirs, sweepStaleTemp } from './stale-temp';
import { ClusterFollowers } from './cluster/follow';
import type { EventMap } from '../shared/contract';
import { diskCause, diskError } from '../ml/io/fs-errors';
import { ensureHome, homeLayout, resolveHome, type HomeLayout } from './home';
import { openStore, type Store, type StoreOptions } from './store';
import { getDataset, listDatasets } from './store/dataset-rows';
import { EventHub } from './events';
import { RunsService } from './runs/runs';
import { MetricsService } from './runs/metrics';
import { CheckpointsService } from './runs/checkpoints';
import { ArtefactsService } from './runs/artefacts';
import { ExperimentsService } from './runs/experiments';
import { JobHost } from './jobs/host';
import { TrainingJobs } from './training/training-jobs';
import { TrainingEstimates } from './training/estimates';
import { DataJobs } from './data/data-jobs';
import { createSampleServices, type SampleServices } from './sampling/generate';

/**
 * The back end shared by the Electron main process, the browser bridge and the CLI: one home
 * folder, one store, one event hub, one job host, and the services over them, wired here by hand
 * (each service gets what it uses; nothing looks anything up at run time).
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
  /** The one job host: every kind of job (dataset, training, sampling) queues and runs here. */
  host: JobHost;
  /** Training runs as jobs. */
  training: TrainingJobs;
  /** Projected training time from a few timed steps (the Train view's estimate, `train --estimate`). */
  estimates: TrainingEstimates;
  /** Dataset import/phantom/prepare/fetch jobs. */
  dataJobs: DataJobs;
  /** Generate view, volume translation and evaluation runs. */
  sampling: SampleServices;
  /** Cluster job folders being followed (imported again while their job runs elsewhere). */
  cluster: ClusterFollowers;
  /** Releases every job and worker, then the store; idempotent. */
  close(): void;
}

export interface OpenServicesOptions {
  /** Explicit home folder (--home); falls back to $BRAINSYNTH_HOME, then the OS data folder. */
  home?: string;
  store?: StoreOptions;
}

/**
 * The home's store, read-write; on a read-only home (read-only file system or no write
 * permission) a read-only one, so that commands which only read (`runs list`) still work and
 * every write fails as "read-only database at <path>".
 */
function openHomeStore(home: HomeLayout, options: StoreOptions | undefined): Store {
  try {
    return openStore(home.dbPath, options);
  } catch (err) {
    const readOnly = options?.readonly ? null : whyNotWritable(home.root);
    if (!readOnly) throw diskError(err, home.dbPath);
    if (!existsSync(home.dbPath)) throw new Error(`${readOnly} at ${home.root}: cannot create the database ${home.dbPath}`);
    return openStore(home.dbPath, { ...options, readonly: true });
  }
}

/** 'read-only file system', 'permission denied', ... or null when the folder is writable. */
function whyNotWritable(dir: string): string | null {
  try {
    accessSync(dir, constants.W_OK);
    return null;
  } catch (err) {
    return diskCause(err);
  }
}

export function openBackend(opts: OpenServicesOptions | string = {}): Services {
  const options = typeof opts === 'string' ? { home: opts } : opts;
  const home = ensureHome(homeLayout(resolveHome({ home: options.home })));
  sweepStaleTemp(homeTempDirs(home));
  const store = openHomeStore(home, options.store);
  const events = new EventHub<EventMap>();
  const metrics = new MetricsService(store, events);
  const runs = new RunsService(store, events, metrics);
  const checkpoints = new CheckpointsService(store);
  const artefacts = new ArtefactsService(store);
  const datasets = { list: () => listDatasets(store), get: (id: number) => getDataset(store, id) };
  const host = new JobHost(events, { cancelRequested: (runId) => runs.cancelRequested(runId) });
  const training = new TrainingJobs({ home, store, events, runs, metrics, checkpoints, artefacts, datasets, host });
  const dataJobs = new DataJobs(store, home, events, { host });
  let closed = false;
  const services: Services = {
    home,
    store,
    events,
    runs,
    metrics,
    checkpoints,
    artefacts,
    experiments: new ExperimentsService(store),
    datasets,
    host,
    training,
    estimates: new TrainingEstimates({ host, datasets, home, parentInfo: (id) => training.parentInfo(id) }),
    dataJobs,
    sampling: undefined as unknown as SampleServices,
    cluster: undefined as unknown as ClusterFollowers,
    close: () => {
      if (closed) return;
      closed = true;
      services.cluster.stopAll();
      // Each service records its own ended jobs synchronously, so all run before the store closes.
      void services.sampling.host.close();
      dataJobs.close();
      training.closeSync();
      void host.close();
      store.close();
    },
  };
  // The sampling services read runs, datasets and artefacts through the finished back end.
  services.sampling = createSampleServices(services);
  services.cluster = new ClusterFollowers(services);
  return services;
}

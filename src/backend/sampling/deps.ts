import type { EventMap } from '../../shared/contract';
import type { EventHub } from '../events';
import type { HomeLayout } from '../home';
import type { JobHost } from '../jobs/host';
import type { ArtefactsService } from '../runs/artefacts';
import type { MetricsService } from '../runs/metrics';
import type { RunsService } from '../runs/runs';
import type { Store } from '../store';

/** What the sampling and evaluation services use of the back end (wired in openBackend). */
export interface SamplingDeps {
  home: HomeLayout;
  store: Store;
  events: EventHub<EventMap>;
  host: JobHost;
  runs: RunsService;
  metrics: MetricsService;
  artefacts: ArtefactsService;
}

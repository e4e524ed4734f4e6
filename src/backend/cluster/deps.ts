import type { HomeLayout } from '../home';
import type { CheckpointsService } from '../runs/checkpoints';
import type { MetricsService } from '../runs/metrics';
import type { RunsService } from '../runs/runs';
import type { Store } from '../store';
import type { getDataset, listDatasets } from '../store/dataset-rows';

/** What cluster export, import and follow use of the back end (wired in openBackend). */
export interface ClusterDeps {
  home: HomeLayout;
  store: Store;
  runs: RunsService;
  metrics: MetricsService;
  checkpoints: CheckpointsService;
  datasets: { list: () => ReturnType<typeof listDatasets>; get: (id: number) => ReturnType<typeof getDataset> };
}

import { join } from 'node:path';
import type { ParsedRequestOf, ResponseOf } from '../../shared/contract';
import type { Services } from '..';
import { exportClusterJob } from './export';
import { importClusterRun } from './import';

/**
 * The 'cluster.*' channels, spread into the app's handler table. Following happens in the process
 * that serves the app (Electron main or the browser bridge) and ends with it.
 */
type ClusterChannel = 'cluster.export' | 'cluster.import';
type ClusterHandler<C extends ClusterChannel> = (req: ParsedRequestOf<C>) => ResponseOf<C> | Promise<ResponseOf<C>>;

export function clusterHandlers(s: Services): { [C in ClusterChannel]: ClusterHandler<C> } {
  return {
    'cluster.export': async ({ datasetId, outDir, ...req }) => {
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      const r = await exportClusterJob(s, {
        ...req,
        dataset: datasetId,
        outDir: outDir ?? join(s.home.root, 'cluster-jobs', `${req.stage}-${stamp}`),
      });
      return {
        dir: r.dir,
        jobId: r.manifest.jobId,
        files: r.files.filter((f) => !f.endsWith('.png')),
        pngs: r.files.filter((f) => f.endsWith('.png')).length,
        commands: r.commands,
      };
    },
    'cluster.import': ({ dir, follow }) => {
      if (!follow) return { ...importClusterRun(s, dir), following: false };
      const r = s.cluster.follow(dir);
      return { ...r, following: r.jobState === 'running' || r.jobState === 'not started' };
    },
  };
}

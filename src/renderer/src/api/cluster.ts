import type { RequestOf, ResponseOf } from '../../../shared/contract';
import { api } from './client';

/** The cluster channels: export a job folder from the Train form, import or follow a job folder's run. */
export type ClusterExportRequest = RequestOf<'cluster.export'>;
export type ClusterExportResult = ResponseOf<'cluster.export'>;
export type ClusterImportResult = ResponseOf<'cluster.import'>;

export function exportClusterJob(req: ClusterExportRequest): Promise<ClusterExportResult> {
  return api().cluster.export(req);
}

export function importClusterRun(dir: string, follow: boolean): Promise<ClusterImportResult> {
  return api().cluster.import({ dir, follow });
}

/**
 * What one dataset job does, in whichever thread runs it (the job worker, or the caller's
 * thread for in-process hosts). It opens its own connection to the store: the dataset services
 * write in single short transactions, and SQLite (WAL, busy timeout) serialises them with the
 * host's connection, as it already does for the CLI running beside the app.
 */
import { homeLayout } from '../home';
import { openStore } from '../store';
import { createPhantomDataset, fetchOpenMsDataset, importDataset, prepareDataset } from './datasets';

export type DataJobSpec =
  | { kind: 'import'; dir: string; name: string }
  | { kind: 'phantom'; subjects: number; name: string; seed?: number }
  | { kind: 'prepare'; datasetId: number; slices?: string; fractions?: [number, number, number]; seed?: number; normalisation?: 'percentile' | 'minmax' }
  | { kind: 'fetch-open-ms'; name?: string; subjects?: string[]; baseUrl?: string };

export interface DataJobInput {
  spec: DataJobSpec;
  dbPath: string;
  homeRoot: string;
}

export type DataJobReport = (phase: string, done: number, total: number | null) => void;

/** Thrown from a progress report once the job was asked to stop. */
export class DataJobCancelledError extends Error {
  constructor() {
    super('cancelled');
    this.name = 'DataJobCancelledError';
  }
}

/**
 * Runs the job; resolves with the dataset it created or changed. When `cancelled()` turns true
 * the job stops at its next progress report (between files, subjects or download chunks) by
 * throwing DataJobCancelledError: the dataset services write all-or-nothing at their end and
 * clean up after a throw, so a cancelled job leaves what a failed one leaves.
 */
export async function runDataJob({ spec, dbPath, homeRoot }: DataJobInput, progress: DataJobReport, cancelled: () => boolean = () => false): Promise<number> {
  const abort = new AbortController();
  const report: DataJobReport = (phase, done, total) => {
    if (cancelled()) {
      abort.abort();
      throw new DataJobCancelledError();
    }
    progress(phase, done, total);
  };
  if (cancelled()) throw new DataJobCancelledError();
  const store = openStore(dbPath);
  const home = homeLayout(homeRoot);
  try {
    switch (spec.kind) {
      case 'import': {
        const d = await importDataset(store, { name: spec.name, dir: spec.dir, onProgress: (done, total) => report('reading volumes', done, total) });
        return d.id;
      }
      case 'phantom': {
        const d = await createPhantomDataset(store, home, {
          name: spec.name,
          subjects: spec.subjects,
          ...(spec.seed !== undefined ? { seed: spec.seed } : {}),
          onProgress: (stage, done, total) => report(stage === 'generate' ? 'generating subjects' : 'checking volumes', done, total),
        });
        return d.id;
      }
      case 'prepare': {
        const r = await prepareDataset(store, home, spec.datasetId, {
          ...(spec.slices !== undefined ? { slices: spec.slices } : {}),
          ...(spec.fractions ? { fractions: spec.fractions } : {}),
          ...(spec.seed !== undefined ? { seed: spec.seed } : {}),
          ...(spec.normalisation !== undefined ? { normalisation: spec.normalisation } : {}),
          onProgress: (done, total) => report('preparing subjects', done, total),
        });
        return r.dataset.id;
      }
      case 'fetch-open-ms': {
        const d = await fetchOpenMsDataset(store, home, {
          ...(spec.name ? { name: spec.name } : {}),
          ...(spec.subjects ? { subjects: spec.subjects } : {}),
          ...(spec.baseUrl ? { baseUrl: spec.baseUrl } : {}),
          signal: abort.signal,
          onProgress: (p) => report('downloading', p.fileIndex, p.files),
          onImport: (done, total) => report('checking volumes', done, total),
        });
        return d.id;
      }
    }
  } finally {
    store.close();
  }
}

/**
 * Datasets that brainsynth creates itself: the synthetic phantom and the open MS download. Both
 * are built in a staging folder under home/datasets/ and adopted into home/datasets/<id>/ by
 * the import transaction, so a failure leaves neither rows nor a half-filled dataset folder.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writePhantomDataset, PHANTOM_ATTRIBUTION, PHANTOM_LABEL } from '../../ml/data/phantom';
import {
  downloadAll,
  openMsManifest,
  readManifestPins,
  OPEN_MS_ATTRIBUTION,
  OPEN_MS_COMMIT,
  OPEN_MS_DEFAULT_BASE_URL,
  OPEN_MS_REPOSITORY,
  type DownloadProgress,
  type DownloadResult,
  type ManifestEntry,
} from '../../ml/data/download';
import { scanBidsFolder } from '../../ml/data/bids';
import { writeFileAtomic } from '../../ml/data/nifti';
import { importDataset, nameTakenMessage, type StoreHandle } from './importer';
import { datasetNameProblem } from '../../shared/dataset-name';
import { datasetNameTaken, type DatasetSummary } from '../store/datasets';

export interface HomeDirs {
  root: string;
  datasetsDir: string;
  datasetDir(id: number): string;
}

function assertNameFree(store: StoreHandle, name: string): void {
  const problem = datasetNameProblem(name);
  if (problem) throw new Error(problem);
  if (datasetNameTaken(store.db, name.trim())) throw new Error(nameTakenMessage(name.trim()));
}

/** Downloads come from the web only: a file:// or other scheme would copy local files in as "downloaded". */
function assertWebUrl(baseUrl: string): void {
  let protocol: string;
  try {
    protocol = new URL(baseUrl).protocol;
  } catch {
    throw new Error(`--base-url ${JSON.stringify(baseUrl)} is not a URL`);
  }
  if (protocol !== 'http:' && protocol !== 'https:') throw new Error(`--base-url ${baseUrl}: only http:// and https:// addresses are fetched (got ${protocol})`);
}

export interface PhantomDatasetOptions {
  name: string;
  subjects: number;
  seed?: number;
  onProgress?: (stage: 'generate' | 'import', done: number, total: number) => void;
}

/** Generates K phantom subjects and imports them as a synthetic dataset ("SYNTHETIC PHANTOM"). */
export async function createPhantomDataset(store: StoreHandle, home: HomeDirs, opts: PhantomDatasetOptions): Promise<DatasetSummary> {
  assertNameFree(store, opts.name);
  const seed = opts.seed ?? 0;
  mkdirSync(home.datasetsDir, { recursive: true });
  const staging = join(home.datasetsDir, `.staging-phantom-${process.pid}-${Date.now()}`);
  try {
    writePhantomDataset(staging, { subjects: opts.subjects, seed, onSubject: (d, t) => opts.onProgress?.('generate', d, t) });
    return await importDataset(store, {
      name: opts.name.trim(),
      dir: staging,
      kind: 'phantom',
      synthetic: true,
      source: `${PHANTOM_LABEL}: brainsynth procedural phantom, ${opts.subjects} subject(s), seed ${seed}, FSL MNI152 1 mm grid`,
      attribution: PHANTOM_ATTRIBUTION,
      adopt: { stagingDir: staging, datasetDir: (id) => home.datasetDir(id) },
      onProgress: (d, t) => opts.onProgress?.('import', d, t),
    });
  } finally {
    if (existsSync(staging)) rmSync(staging, { recursive: true, force: true });
  }
}

export interface FetchOpenMsOptions {
  name?: string;
  baseUrl?: string;
  /** e.g. ['patient07', '19']; default all 30. */
  subjects?: string[];
  /** JSON file {"files":[{"remote","size","sha256"}]} pinning sizes/checksums. */
  manifestPath?: string;
  retries?: number;
  /** Aborts the downloads (a cancelled job). */
  signal?: AbortSignal;
  onProgress?: (p: DownloadProgress & { fileIndex: number; files: number }) => void;
  onFile?: (entry: ManifestEntry, result: DownloadResult) => void;
  onImport?: (done: number, total: number) => void;
}

export const OPEN_MS_DEFAULT_NAME = 'open-ms';

/**
 * Downloads the open MS MNI files into home/downloads/open-ms/ (resumable: .part files and
 * finished files survive interruptions), records their sha256 in download-manifest.json, then
 * imports them (moved into home/datasets/<id>/) with the CC BY attribution.
 */
export async function fetchOpenMsDataset(store: StoreHandle, home: HomeDirs, opts: FetchOpenMsOptions = {}): Promise<DatasetSummary> {
  const name = opts.name ?? OPEN_MS_DEFAULT_NAME;
  assertNameFree(store, name);
  const pins = opts.manifestPath ? readManifestPins(opts.manifestPath) : [];
  const entries = openMsManifest(opts.subjects, pins);
  const baseUrl = opts.baseUrl ?? OPEN_MS_DEFAULT_BASE_URL;
  assertWebUrl(baseUrl);
  const downloads = join(home.root, 'downloads', 'open-ms');
  mkdirSync(downloads, { recursive: true });
  const results = await downloadAll(baseUrl, entries, downloads, {
    ...(opts.retries !== undefined ? { retries: opts.retries } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.onFile ? { onFile: opts.onFile } : {}),
  });
  writeFileAtomic(
    join(downloads, 'download-manifest.json'),
    Buffer.from(
      JSON.stringify(
        {
          source: `${OPEN_MS_REPOSITORY}@${OPEN_MS_COMMIT}`,
          baseUrl,
          files: entries.map((e) => ({ remote: e.remote, local: e.local, size: results.get(e.local)!.bytes, sha256: results.get(e.local)!.sha256 })),
        },
        null,
        2,
      ),
    ),
  );
  // Only the requested subjects move into the dataset; other finished downloads stay for later.
  const staging = join(home.datasetsDir, `.staging-open-ms-${process.pid}-${Date.now()}`);
  mkdirSync(staging, { recursive: true });
  const moved: [string, string][] = [];
  try {
    for (const e of entries) {
      const from = join(downloads, e.local);
      const to = join(staging, e.local);
      mkdirSync(resolve(to, '..'), { recursive: true });
      renameSync(from, to);
      moved.push([from, to]);
    }
    return await importDataset(store, {
      name,
      pairs: scanBidsFolder(staging),
      kind: 'downloaded',
      source: `${baseUrl} (${OPEN_MS_REPOSITORY}, cross_sectional/MNI, commit ${OPEN_MS_COMMIT})`,
      attribution: OPEN_MS_ATTRIBUTION,
      adopt: { stagingDir: staging, datasetDir: (id) => home.datasetDir(id) },
      ...(opts.onImport ? { onProgress: (d: number, t: number) => opts.onImport!(d, t) } : {}),
    });
  } catch (err) {
    // Put verified downloads back so the next attempt does not fetch them again.
    for (const [from, to] of moved) if (existsSync(to)) renameSync(to, from);
    throw err;
  } finally {
    if (existsSync(staging)) rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * Resumable HTTP(S) downloads and the open MS MNI manifest.
 *
 * Source: the public repository muschellij2/open_ms_data, folder cross_sectional/MNI at commit
 * 65704901f606 (30 patients; per patient FLAIR, T1, T1POST, T2 and the consensus lesion mask
 * "GOLD_STANDARD", all on the FSL MNI152 1 mm grid). We fetch FLAIR, T1 and GOLD_STANDARD and
 * store them BIDS-style. The repository publishes no checksums: entries carry sha256/size only
 * where a manifest file supplies them; otherwise the computed sha256 is recorded at download
 * (trust on first use) and the import validates every file's NIfTI content.
 */
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export const OPEN_MS_REPOSITORY = 'muschellij2/open_ms_data';
export const OPEN_MS_COMMIT = '65704901f606';
/** github.com resolves the abbreviated commit and redirects to raw.githubusercontent.com. */
export const OPEN_MS_DEFAULT_BASE_URL = `https://github.com/${OPEN_MS_REPOSITORY}/raw/${OPEN_MS_COMMIT}/cross_sectional/MNI`;
export const OPEN_MS_ATTRIBUTION =
  'Open MS lesion database (University of Ljubljana), MNI-space derivatives from github.com/muschellij2/open_ms_data ' +
  `(cross_sectional/MNI, commit ${OPEN_MS_COMMIT}). CC BY. Cite: Lesjak Z, Pernus F, Likar B, Spiclin Z. "A novel public MR ` +
  'image dataset of multiple sclerosis patients with lesion segmentations based on multi-rater consensus." ' +
  'Neuroinformatics (2017), doi:10.1007/s12021-017-9348-7.';
export const OPEN_MS_PATIENTS: readonly string[] = Array.from({ length: 30 }, (_, i) => `patient${String(i + 1).padStart(2, '0')}`);

/** Remote file name in cross_sectional/MNI/<patient>/ -> our BIDS suffix. */
export const OPEN_MS_FILES: readonly { remote: string; suffix: 'FLAIR' | 'T1w' | 'label-lesion_mask' }[] = [
  { remote: 'FLAIR_N4_noneck_reduced_winsor_regtoFLAIR_brain_N4_regtoMNI.nii.gz', suffix: 'FLAIR' },
  { remote: 'T1_N4_noneck_reduced_winsor_regtoFLAIR_brain_N4_regtoMNI.nii.gz', suffix: 'T1w' },
  { remote: 'GOLD_STANDARD_N4_noneck_reduced_winsor_regtoFLAIR_regtoMNI.nii.gz', suffix: 'label-lesion_mask' },
];

export interface ManifestEntry {
  /** Path relative to the base URL, e.g. 'patient07/T1_N4_...nii.gz'. */
  remote: string;
  /** Path relative to the destination folder, e.g. 'sub-patient07/anat/sub-patient07_T1w.nii.gz'. */
  local: string;
  size?: number;
  sha256?: string;
}

/** Normalises 'patient7', '07', 'sub-patient07' to 'patient07'. */
export function normaliseOpenMsSubject(text: string): string {
  const m = /^(?:sub-)?(?:patient)?(\d{1,2})$/.exec(text.trim());
  const id = m ? `patient${m[1]!.padStart(2, '0')}` : '';
  if (!OPEN_MS_PATIENTS.includes(id)) throw new Error(`unknown open MS subject "${text}" (expected patient01..patient30)`);
  return id;
}

/**
 * Entries for the chosen patients (default all 30). `pins` (from a user manifest JSON:
 * {"files":[{"remote":..., "size":..., "sha256":...}]}) adds known sizes/checksums.
 */
export function openMsManifest(subjects?: readonly string[], pins: readonly ManifestEntry[] = []): ManifestEntry[] {
  const chosen = subjects && subjects.length > 0 ? [...new Set(subjects.map(normaliseOpenMsSubject))].sort() : [...OPEN_MS_PATIENTS];
  const byRemote = new Map(pins.map((p) => [p.remote, p]));
  return chosen.flatMap((patient) =>
    OPEN_MS_FILES.map(({ remote, suffix }) => {
      const pin = byRemote.get(`${patient}/${remote}`);
      return {
        remote: `${patient}/${remote}`,
        local: `sub-${patient}/anat/sub-${patient}_${suffix}.nii.gz`,
        ...(pin?.size !== undefined ? { size: pin.size } : {}),
        ...(pin?.sha256 ? { sha256: pin.sha256.toLowerCase() } : {}),
      };
    }),
  );
}

export function readManifestPins(path: string): ManifestEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: not a readable JSON manifest (${err instanceof Error ? err.message : String(err)})`);
  }
  const files = (parsed as { files?: unknown }).files;
  if (!Array.isArray(files)) throw new Error(`${path}: expected {"files": [{"remote", "size", "sha256"}]}`);
  return files.map((f, i) => {
    const e = f as Partial<ManifestEntry>;
    if (typeof e.remote !== 'string') throw new Error(`${path}: files[${i}].remote must be a string`);
    if (e.sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(e.sha256)) throw new Error(`${path}: files[${i}].sha256 is not 64 hex digits`);
    return { remote: e.remote, local: '', ...(typeof e.size === 'number' ? { size: e.size } : {}), ...(e.sha256 ? { sha256: e.sha256 } : {}) };
  });
}

export interface DownloadProgress {
  file: string;
  received: number;
  total: number | null;
}

export interface DownloadOptions {
  size?: number;
  sha256?: string;
  /** Attempts after a dropped connection (each resumes with an HTTP Range request). */
  retries?: number;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  sha256: string;
  /** True when bytes from an earlier partial download were kept. */
  resumed: boolean;
  attempts: number;
}

export class DownloadError extends Error {
  constructor(
    readonly url: string,
    message: string,
  ) {
    super(`${url}: ${message}`);
    this.name = 'DownloadError';
  }
}

async function hashFile(path: string, hash: ReturnType<typeof createHash>): Promise<void> {
  await new Promise<void>((resolveHash, reject) => {
    const s = createReadStream(path);
    s.on('data', (chunk) => hash.update(chunk));
    s.on('end', () => resolveHash());
    s.on('error', reject);
  });
}

/**
 * Downloads url -> dest. Bytes go to dest + '.part' (kept across runs and interruptions); an
 * existing .part is resumed with `Range: bytes=N-`. Only a complete file whose size and sha256
 * match (when known) is fsynced and renamed to dest.
 */
export async function downloadFile(url: string, dest: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
  mkdirSync(dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  const retries = opts.retries ?? 3;
  let resumed = false;
  let attempts = 0;
  for (;;) {
    attempts++;
    const have = existsSync(part) ? statSync(part).size : 0;
    if (opts.size !== undefined && have > opts.size) unlinkSync(part);
    const offset = existsSync(part) ? statSync(part).size : 0;
    try {
      const headers: Record<string, string> = offset > 0 ? { Range: `bytes=${offset}-` } : {};
      const response = await fetch(url, { headers, redirect: 'follow', ...(opts.signal ? { signal: opts.signal } : {}) });
      let start = offset;
      let total: number | null = null;
      if (response.status === 416 && offset > 0) {
        // Nothing after our offset: the .part may already be complete; verification below decides.
        await response.body?.cancel();
        total = offset;
      } else if (response.status === 206) {
        const range = /bytes (\d+)-(\d+)\/(\d+|\*)/.exec(response.headers.get('content-range') ?? '');
        if (!range || Number(range[1]) !== offset) throw new DownloadError(url, `server answered a resume request with an unexpected range (${response.headers.get('content-range')})`);
        total = range[3] === '*' ? null : Number(range[3]);
        resumed ||= offset > 0;
      } else if (response.ok) {
        start = 0; // server ignored Range: start over
        const len = response.headers.get('content-length');
        total = len ? Number(len) : null;
      } else {
        await response.body?.cancel();
        throw new DownloadError(url, `HTTP ${response.status} ${response.statusText}`);
      }
      if (total !== null && opts.size !== undefined && total !== opts.size) {
        await response.body?.cancel();
        throw new DownloadError(url, `server reports ${total} bytes, manifest expects ${opts.size}`);
      }
      if (response.status !== 416) {
        const fd = openSync(part, start === 0 ? 'w' : 'a');
        let received = start;
        try {
          const reader = response.body!.getReader();
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            let w = 0;
            while (w < value.length) w += writeSync(fd, value, w, value.length - w);
            received += value.length;
            opts.onProgress?.({ file: basename(dest), received, total });
          }
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        if (total !== null && received < total) throw new Error(`connection closed after ${received} of ${total} bytes`);
      }
      const bytes = statSync(part).size;
      const expected = opts.size ?? total;
      if (expected !== null && expected !== undefined && bytes !== expected) {
        unlinkSync(part);
        throw new DownloadError(url, `size ${bytes} bytes, expected ${expected}; partial file discarded`);
      }
      const hash = createHash('sha256');
      await hashFile(part, hash);
      const sha256 = hash.digest('hex');
      if (opts.sha256 && sha256 !== opts.sha256.toLowerCase()) {
        unlinkSync(part);
        throw new DownloadError(url, `sha256 ${sha256} does not match the manifest's ${opts.sha256}; file discarded`);
      }
      const head = readFileSync(part).subarray(0, 40).toString('latin1');
      if (head.startsWith('version https://git-lfs')) {
        unlinkSync(part);
        throw new DownloadError(url, 'received a Git LFS pointer instead of the file; use a --base-url that serves LFS content (media.githubusercontent.com)');
      }
      renameSync(part, dest);
      return { path: dest, bytes, sha256, resumed, attempts };
    } catch (err) {
      if (err instanceof DownloadError || opts.signal?.aborted || attempts > retries) {
        if (err instanceof DownloadError) throw err;
        throw new DownloadError(url, `${err instanceof Error ? err.message : String(err)} (after ${attempts} attempt(s); run again to resume)`);
      }
      // Dropped connection: loop and resume from what reached the .part file.
    }
  }
}

export interface DownloadAllOptions {
  onFile?: (entry: ManifestEntry, result: DownloadResult) => void;
  onProgress?: (p: DownloadProgress & { fileIndex: number; files: number }) => void;
  retries?: number;
  signal?: AbortSignal;
}

/** Downloads every entry not yet complete in destDir (files already present are hashed, not refetched). */
export async function downloadAll(baseUrl: string, entries: readonly ManifestEntry[], destDir: string, opts: DownloadAllOptions = {}): Promise<Map<string, DownloadResult>> {
  const results = new Map<string, DownloadResult>();
  const base = baseUrl.replace(/\/+$/, '');
  for (const [fileIndex, entry] of entries.entries()) {
    const dest = join(destDir, entry.local);
    let result: DownloadResult;
    if (existsSync(dest)) {
      const hash = createHash('sha256');
      await hashFile(dest, hash);
      const sha256 = hash.digest('hex');
      const bytes = statSync(dest).size;
      if ((entry.sha256 && entry.sha256 !== sha256) || (entry.size !== undefined && entry.size !== bytes)) {
        unlinkSync(dest);
        result = await downloadFile(`${base}/${entry.remote}`, dest, downloadOptions(entry, fileIndex, entries.length, opts));
      } else {
        result = { path: dest, bytes, sha256, resumed: false, attempts: 0 };
      }
    } else {
      result = await downloadFile(`${base}/${entry.remote}`, dest, downloadOptions(entry, fileIndex, entries.length, opts));
    }
    results.set(entry.local, result);
    opts.onFile?.(entry, result);
  }
  return results;
}

function downloadOptions(entry: ManifestEntry, fileIndex: number, files: number, opts: DownloadAllOptions): DownloadOptions {
  return {
    ...(entry.size !== undefined ? { size: entry.size } : {}),
    ...(entry.sha256 ? { sha256: entry.sha256 } : {}),
    ...(opts.retries !== undefined ? { retries: opts.retries } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    onProgress: (p) => opts.onProgress?.({ ...p, fileIndex, files }),
  };
}

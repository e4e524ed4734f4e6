import { existsSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadFile, DownloadError, openMsManifest, normaliseOpenMsSubject, OPEN_MS_FILES } from '../../src/ml/data/download';
import { fetchOpenMsDataset, getDatasetDetail } from '../../src/backend/data/datasets';
import { datasetRowCounts, hasOpenMs, tempDir, tempHome } from './helpers';
import { startOpenMsServer, type OpenMsServer } from './open-ms-server';

const T1 = `patient07/${OPEN_MS_FILES[1]!.remote}`;

describe('open MS manifest', () => {
  it('maps the repository layout to BIDS for the chosen patients', () => {
    const m = openMsManifest(['7', 'sub-patient19']);
    expect(m.map((e) => e.local)).toEqual([
      'sub-patient07/anat/sub-patient07_FLAIR.nii.gz',
      'sub-patient07/anat/sub-patient07_T1w.nii.gz',
      'sub-patient07/anat/sub-patient07_label-lesion_mask.nii.gz',
      'sub-patient19/anat/sub-patient19_FLAIR.nii.gz',
      'sub-patient19/anat/sub-patient19_T1w.nii.gz',
      'sub-patient19/anat/sub-patient19_label-lesion_mask.nii.gz',
    ]);
    expect(m[1]!.remote).toBe('patient07/T1_N4_noneck_reduced_winsor_regtoFLAIR_brain_N4_regtoMNI.nii.gz');
    expect(openMsManifest()).toHaveLength(90);
    expect(() => normaliseOpenMsSubject('patient31')).toThrow(/patient01..patient30/);
  });
});

describe.skipIf(!hasOpenMs)('resumable download against a local server', () => {
  let server: OpenMsServer;
  const tmp = tempDir();
  beforeAll(async () => {
    server = await startOpenMsServer();
  });
  afterAll(async () => {
    await server.close();
    tmp.cleanup();
  });
  const source = () => readFileSync(server.fileFor(T1)!);

  it('resumes an interrupted transfer with an HTTP Range request and verifies sha256', async () => {
    server.log.length = 0;
    server.cutOnce.set(T1, 1_500_000);
    const dest = join(tmp.dir, 'a', 't1.nii.gz');
    const r = await downloadFile(`${server.baseUrl}/${T1}`, dest, { sha256: server.sha256(T1), size: source().length });
    expect(r.resumed).toBe(true);
    expect(r.attempts).toBe(2);
    expect(server.log.map((l) => [l.status, l.range])).toEqual([
      [200, undefined],
      [206, expect.stringMatching(/^bytes=\d+-$/)],
    ]);
    const resumedAt = Number(/bytes=(\d+)-/.exec(server.log[1]!.range!)![1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(readFileSync(dest).equals(source())).toBe(true);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('continues a .part file left by an earlier run, and starts over when the server ignores Range', async () => {
    const dest = join(tmp.dir, 'b', 't1.nii.gz');
    mkdirSync(join(tmp.dir, 'b'), { recursive: true });
    writeFileSync(`${dest}.part`, source().subarray(0, 1_048_576));
    server.log.length = 0;
    const r = await downloadFile(`${server.baseUrl}/${T1}`, dest);
    expect(server.log[0]!.range).toBe('bytes=1048576-');
    expect(r.resumed).toBe(true);
    expect(readFileSync(dest).equals(source())).toBe(true);

    const dest2 = join(tmp.dir, 'c', 't1.nii.gz');
    mkdirSync(join(tmp.dir, 'c'), { recursive: true });
    writeFileSync(`${dest2}.part`, Buffer.alloc(1000, 7)); // garbage prefix the server will not honour
    server.ignoreRange = true;
    try {
      const r2 = await downloadFile(`${server.baseUrl}/${T1}`, dest2);
      expect(r2.resumed).toBe(false);
      expect(readFileSync(dest2).equals(source())).toBe(true);
    } finally {
      server.ignoreRange = false;
    }
  });

  it('keeps the .part after giving up so that the next run resumes', async () => {
    const dest = join(tmp.dir, 'd', 't1.nii.gz');
    server.cutOnce.set(T1, 700_000);
    const err = await downloadFile(`${server.baseUrl}/${T1}`, dest, { retries: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as Error).message).toMatch(/run again to resume/);
    expect(statSync(`${dest}.part`).size).toBeGreaterThan(0);
    expect(existsSync(dest)).toBe(false);
    const r = await downloadFile(`${server.baseUrl}/${T1}`, dest);
    expect(r.resumed).toBe(true);
    expect(readFileSync(dest).equals(source())).toBe(true);
  });

  it('rejects a checksum or size mismatch and HTTP errors, leaving no file behind', async () => {
    const dest = join(tmp.dir, 'e', 't1.nii.gz');
    await expect(downloadFile(`${server.baseUrl}/${T1}`, dest, { sha256: '0'.repeat(64) })).rejects.toThrow(/sha256 [0-9a-f]{64} does not match the manifest's 0000/);
    expect(existsSync(dest) || existsSync(`${dest}.part`)).toBe(false);
    await expect(downloadFile(`${server.baseUrl}/${T1}`, dest, { size: 123 })).rejects.toThrow(/server reports \d+ bytes, manifest expects 123/);
    await expect(downloadFile(`${server.baseUrl}/patient07/missing.nii.gz`, dest)).rejects.toThrow(/missing\.nii\.gz: HTTP 404/);
  });

  it('fetches open MS subjects into a dataset with the CC BY attribution (service)', async () => {
    const env = tempHome();
    try {
      const pinsPath = join(env.dir, 'pins.json');
      const remotes = openMsManifest(['patient07', 'patient19']).map((e) => e.remote);
      writeFileSync(pinsPath, JSON.stringify({ files: remotes.map((remote) => ({ remote, sha256: server.sha256(remote), size: readFileSync(server.fileFor(remote)!).length })) }));
      server.cutOnce.set(`patient19/${OPEN_MS_FILES[0]!.remote}`, 2_000_000);
      server.log.length = 0;
      const d = await fetchOpenMsDataset(env.store, env.home, { baseUrl: server.baseUrl, subjects: ['patient07', 'patient19'], manifestPath: pinsPath });
      expect(d.kind).toBe('downloaded');
      expect(d.attribution).toMatch(/Lesjak.*doi:10\.1007\/s12021-017-9348-7/);
      expect(d.attribution).toMatch(/CC BY/);
      expect(server.log.filter((l) => l.status === 206)).toHaveLength(1);
      const detail = getDatasetDetail(env.store.db, d.id);
      expect(detail.subjects.map((s) => s.label)).toEqual(['sub-patient07', 'sub-patient19']);
      for (const v of detail.subjects.flatMap((s) => s.volumes)) {
        expect(v.path.startsWith(env.home.datasetDir(d.id))).toBe(true);
        const remote = remotes.find((r) => v.path.endsWith(`_${OPEN_MS_FILES.find((f) => r.endsWith(f.remote))!.suffix}.nii.gz`) && v.path.includes(r.slice(0, 9)))!;
        expect(v.sha256).toBe(server.sha256(remote));
      }
      const manifest = JSON.parse(readFileSync(join(env.home.root, 'downloads', 'open-ms', 'download-manifest.json'), 'utf8'));
      expect(manifest.files).toHaveLength(6);
      // A second fetch under the same name is refused before any download.
      server.log.length = 0;
      await expect(fetchOpenMsDataset(env.store, env.home, { baseUrl: server.baseUrl, subjects: ['7'] })).rejects.toThrow(/already exists/);
      expect(server.log).toHaveLength(0);
      // A failed download imports nothing.
      const before = datasetRowCounts(env.store);
      await expect(fetchOpenMsDataset(env.store, env.home, { name: 'other', baseUrl: server.baseUrl, subjects: ['patient01'] })).rejects.toThrow(/HTTP 404/);
      expect(datasetRowCounts(env.store)).toEqual(before);
    } finally {
      env.cleanup();
    }
  });
});

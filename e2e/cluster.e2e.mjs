// "Import / follow cluster run" on Experiments against a real `brainsynth serve`: a job folder as
// train.py leaves it (written here without torch) is imported through the UI; a foreign folder is
// refused with the reason; the imported run's page shows its curves and where it ran.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { launchBrowser, openApp, screenshot, serveUrl } from './helpers.mjs';

function writeJob(dir) {
  const jobId = randomUUID();
  mkdirSync(join(dir, 'output'), { recursive: true });
  const loop = { epochs: 2, batchSize: 4, seed: 42, checkpointEvery: 50, valEvery: 1, valAtStart: false, maxStepsPerEpoch: 0, maxValBatches: 0 };
  writeFileSync(
    join(dir, 'job.json'),
    JSON.stringify({
      format: 'brainsynth-cluster-job',
      version: 1,
      jobId,
      name: 'e2e cluster autoencoder',
      stage: 'autoencoder',
      preset: 'reference',
      config: { stage: 'autoencoder', preset: 'reference', imageSize: [160, 224], augment: true, loop },
      dataset: { id: 999, name: 'not in this store' },
      parent: null,
      parents: {},
      data: { exportRoot: join(dir, 'data'), rows: { train: 8, validation: 2, test: 2 } },
      exportedAt: new Date().toISOString(),
      exportedFrom: 'e2e',
    }),
  );
  let lines = '';
  for (let s = 1; s <= 30; s++) lines += `${JSON.stringify({ step: s, epoch: s > 15 ? 1 : 0, split: 'train', name: 'l1_loss', value: 0.5 / Math.sqrt(s) })}\n`;
  for (const s of [15, 30]) lines += `${JSON.stringify({ step: s, epoch: s / 15, split: 'validation', name: 'l1_loss', value: 0.6 / Math.sqrt(s) })}\n`;
  writeFileSync(join(dir, 'output', 'metrics.jsonl'), lines);
  writeFileSync(
    join(dir, 'output', 'status.json'),
    JSON.stringify({ state: 'completed', jobId, stage: 'autoencoder', worldSize: 8, backend: 'nccl', device: 'NVIDIA A100-SXM4-80GB', host: 'gpu-node-03', step: 30, startedAt: '2026-01-01T10:00:00Z', updatedAt: '2026-01-01T11:30:00Z' }),
  );
}

describe('Cluster import (Experiments)', () => {
  let browser;
  let root;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'bs-e2e-cluster-'));
    writeJob(join(root, 'job'));
    mkdirSync(join(root, 'foreign'));
    writeFileSync(join(root, 'foreign', 'job.json'), JSON.stringify({ format: 'someone-else' }));
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('refuses a foreign folder, imports a job folder and shows the run with its curves', async () => {
    const { page, problems } = browser;
    await openApp(page, serveUrl(), '/experiments');
    await page.click('[data-testid="cluster-import"] summary');
    await page.fill('[data-testid="cluster-import-dir"]', join(root, 'foreign'));
    await page.click('[data-testid="cluster-import-button"]');
    const refusal = await page.locator('[data-testid="cluster-import-error"]').textContent();
    assert.match(refusal, /not a brainsynth cluster job \(format is "someone-else"/);

    await page.fill('[data-testid="cluster-import-dir"]', join(root, 'job'));
    await page.click('[data-testid="cluster-import-button"]');
    const result = page.locator('[data-testid="cluster-import-result"]');
    await result.waitFor();
    assert.match(await result.textContent(), /registered: 32 metric points; the job is completed/);
    await page.locator('[data-testid="runs-table"] tbody tr', { hasText: 'e2e cluster autoencoder' }).waitFor();
    await screenshot(page, 'cluster-import');

    await result.locator('a').click();
    await page.getByText('cluster: torchrun 8 procs nccl on gpu-node-03 (NVIDIA A100-SXM4-80GB)').first().waitFor();
    await page.getByText('30 train · 2 validation points').waitFor();
    await screenshot(page, 'cluster-run');
    assert.deepEqual(problems, []);
  });
});

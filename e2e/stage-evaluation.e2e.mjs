// Evaluating every stage from the app against a real `brainsynth serve`: a phantom is made and
// prepared through the API, a tiny random pipeline (test/sample/fixtures.ts, models at 40x56) is
// registered as autoencoder -> ldm runs, then from the Train view's "Evaluate" the autoencoder run
// is scored on its reconstructions and the LDM run on 16 unconditional samples with the MobileNet
// of ../shared as the Frechet feature network; both appear on their run pages and in Experiments.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectApi, launchBrowser, openApp, preparedPhantom, registerTinyPipeline, repoRoot, screenshot, serveUrl } from './helpers.mjs';

const TAG = Date.now().toString(36);
const NAME = `e2e stage eval ${TAG}`;
const MOBILENET = resolve(process.env.BRAINSYNTH_SHARED ?? resolve(repoRoot, '..', 'shared'), 'weights/mobilenet_v1_0.25_224/model.json');

async function waitRun(api, runId, timeoutMs = 300_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await api.runs.get({ id: runId });
    if (run.status === 'completed') return run;
    if (run.status === 'failed' || run.status === 'cancelled') throw new Error(`evaluation run ${runId}: ${run.status}: ${run.error}`);
    if (Date.now() > deadline) throw new Error(`evaluation run ${runId} did not finish in ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The evaluation run id of the page the Train view's Evaluate navigated to. */
async function evaluationRunFromHash(page) {
  await page.waitForFunction(() => /#\/runs\/\d+/.test(location.hash), null, { timeout: 20_000 });
  return Number(/#\/runs\/(\d+)/.exec(await page.evaluate(() => location.hash))[1]);
}

describe('Evaluating every stage', { skip: !existsSync(MOBILENET) && `feature network not found (${MOBILENET})` }, () => {
  let browser;
  let client;
  let page;
  let aeRunId;
  let ldmRunId;
  let aeEvalId;
  let split;

  before(async () => {
    client = connectApi(serveUrl());
    const { api } = client;
    const datasetId = await preparedPhantom(api, { subjects: 3, name: NAME, seed: 7 }, { slices: '86:92', fractions: [1, 1, 1], seed: 1 });
    const detail = await api.datasets.detail({ id: datasetId });
    split = ['test', 'validation', 'train'].find((name) => detail.subjects.some((s) => s.split === name));
    // No ControlNet run: the fixture's ControlNet weights are written but not registered.
    const { autoencoder, ldm } = await registerTinyPipeline(api, { datasetId, tag: TAG });
    aeRunId = autoencoder.id;
    ldmRunId = ldm.id;
    browser = await launchBrowser({ viewport: { width: 1440, height: 1100 } });
    page = browser.page;
  });

  after(async () => {
    await browser?.close();
    client?.close();
  });

  async function evaluateFromTrainView(runId, fill) {
    await openApp(page, serveUrl(), '/train');
    await page.getByTestId('train-watch').selectOption(String(runId));
    await page.getByTestId('train-evaluate-open').click();
    await fill();
    await screenshot(page, `train-evaluate-run-${runId}`);
    await page.getByTestId('train-evaluate-start').click();
    return evaluationRunFromHash(page);
  }

  it('an autoencoder run: Evaluate in the Train view stores reconstruction metrics shown on the run page', async () => {
    const evalId = await evaluateFromTrainView(aeRunId, async () => {
      await page.getByTestId('train-evaluate-split').selectOption(split);
    });
    await waitRun(client.api, evalId);
    aeEvalId = evalId;
    const r = await client.api.evaluate.results({ runId: evalId, perImage: true });
    assert.equal(r.stage, 'autoencoder');
    assert.equal(r.modelRunId, aeRunId);
    assert.deepEqual(r.model.map((m) => m.name).slice(0, 3), ['psnr', 'mae', 'ms_ssim']);
    assert.ok(r.images > 0);

    const summary = page.getByTestId('evaluation-summary');
    await summary.waitFor({ timeout: 30_000 });
    assert.match(await summary.locator('tr[data-method="model"] th').innerText(), /Autoencoder reconstruction/);
    const msssim = r.model.find((m) => m.name === 'ms_ssim');
    assert.equal(await summary.locator('tr[data-method="model"] td[data-metric="ms_ssim"]').innerText(), `${msssim.mean.toFixed(4)} ± ${msssim.std.toFixed(4)}`);
    await page.locator('[data-testid="per-image-table"] tbody tr').first().click();
    await page.getByTestId('image-triple').waitFor();
    await page.waitForFunction(() => (document.querySelector('[data-testid="triple-generated"] canvas')?.width ?? 0) > 0, null, { timeout: 10_000 });
    assert.equal(await page.getByTestId('triple-flair').count(), 0, 'a reconstruction pair has no FLAIR panel');
    await screenshot(page, 'evaluation-autoencoder');
    await page.getByTestId('image-triple-close').click();
    assert.deepEqual(browser.problems, []);
  });

  it('an LDM run: 16 samples with the MobileNet store a named Frechet distance and the diversity, with the sample grid', async () => {
    const evalId = await evaluateFromTrainView(ldmRunId, async () => {
      await page.getByTestId('train-evaluate-split').selectOption(split);
      await page.getByTestId('train-evaluate-steps').fill('2');
      await page.getByTestId('train-evaluate-samples').fill('16');
      await page.getByTestId('train-evaluate-features').fill(MOBILENET);
    });
    await waitRun(client.api, evalId, 600_000);
    const r = await client.api.evaluate.results({ runId: evalId });
    assert.equal(r.stage, 'ldm');
    const f = r.sampleQuality.frechet;
    assert.equal(f.computed, true);
    assert.equal(f.name, 'frechet_distance[mobilenet_v1_0.25_224:conv_pw_13_relu]');
    assert.equal(f.samples, 16);
    assert.ok(f.value > 0);
    assert.match(f.warning, /rank/);
    assert.equal(r.sampleQuality.diversity.samples, 16);

    const summary = page.getByTestId('evaluation-summary');
    await summary.waitFor({ timeout: 30_000 });
    const fid = summary.locator(`tr[data-method="model"] td[data-metric="${f.name}"]`);
    assert.match(await fid.innerText(), new RegExp(`^${f.value.toFixed(4)}`));
    assert.match(await summary.locator('thead').innerText(), /Fréchet distance \(mobilenet_v1_0\.25_224:conv_pw_13_relu\)[\s\S]*MS-SSIM diversity/);
    assert.match(await page.getByTestId('frechet-warning').innerText(), /16 samples for 256-dimensional features/);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="sample-grid"] canvas').length === 16, null, { timeout: 20_000 });
    await screenshot(page, 'evaluation-ldm');

    // Experiments: both evaluations listed; compared side by side with stage-appropriate columns.
    await openApp(page, serveUrl(), '/experiments');
    await page.locator(`[data-compare-run="${evalId}"]`).check();
    if (aeEvalId) await page.locator(`[data-compare-run="${aeEvalId}"]`).check();
    const compare = page.getByTestId('compare-table');
    await compare.waitFor({ timeout: 10_000 });
    await page.waitForFunction((name) => !!document.querySelector(`[data-testid="compare-table"] tbody tr[data-metric="${name}"]`), f.name, { timeout: 10_000 });
    await page.getByTestId('compare-panel').scrollIntoViewIfNeeded();
    await screenshot(page, 'evaluation-stages-compare');
    assert.deepEqual(browser.problems, []);
  });
});

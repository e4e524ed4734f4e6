// Generate view (and evaluation tables) against a real `brainsynth serve`: a 2-subject phantom is
// made and prepared through the API, a tiny random ControlNet pipeline (test/sample/fixtures.ts,
// models at 40x56) is registered as autoencoder -> ldm -> controlnet runs in the server's home,
// then a slice is picked and generated with 2 DDIM steps from the UI.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectApi, launchBrowser, openApp, preparedPhantom, registerTinyPipeline, screenshot, serveUrl } from './helpers.mjs';
import { readFile } from 'node:fs/promises';

const TAG = Date.now().toString(36);
const NAME = `e2e generate ${TAG}`;

/** Mean and variance of a canvas's red channel, read in the page (blank canvases have variance 0). */
async function canvasStats(locator) {
  return locator.evaluate((canvas) => {
    const { width, height } = canvas;
    if (!width || !height) return { width, height, mean: 0, variance: 0 };
    const data = canvas.getContext('2d').getImageData(0, 0, width, height).data;
    let sum = 0;
    let sq = 0;
    const n = width * height;
    for (let i = 0; i < data.length; i += 4) {
      sum += data[i];
      sq += data[i] * data[i];
    }
    const mean = sum / n;
    return { width, height, mean, variance: sq / n - mean * mean };
  });
}

describe('Generate view', () => {
  let browser;
  let client;
  let page;
  let datasetId;
  let controlnetRunId;
  let subjectLabel;
  let flairVolumeId;

  before(async () => {
    client = connectApi(serveUrl());
    const { api } = client;
    datasetId = await preparedPhantom(api, { subjects: 2, name: NAME, seed: 5 }, { slices: '89:91', fractions: [1, 1, 1], seed: 1 });
    const detail = await api.datasets.detail({ id: datasetId });
    const subject = detail.subjects[0];
    subjectLabel = subject.label;
    flairVolumeId = subject.volumes.find((v) => v.modality === 'FLAIR').id;

    const { controlnet } = await registerTinyPipeline(api, {
      datasetId,
      tag: TAG,
      controlnet: {
        name: `tiny controlnet ${TAG}`,
        // One epoch: a smoke run, which the Generate view says beside its results.
        config: { stage: 'controlnet', preset: 'desktop', loop: { epochs: 1 }, controlnet: { sampleSteps: 2, guidanceScale: 7, conditioningScale: 1 } },
      },
    });
    controlnetRunId = controlnet.id;

    browser = await launchBrowser({ viewport: { width: 1440, height: 1100 } });
    page = browser.page;
  });

  after(async () => {
    await browser?.close();
    client?.close();
  });

  it('takes the slice picked in the Data view, generates 2 samples and shows the four panels with metrics', async () => {
    // The route query is what the Data view's "Use as condition" writes.
    await openApp(page, serveUrl(), `/generate?dataset=${datasetId}&subject=${encodeURIComponent(subjectLabel)}&volume=${flairVolumeId}&z=90`);
    await page.getByTestId('generate-form').waitFor();
    await page
      .waitForFunction(() => document.querySelector('[data-testid="pick-z"]')?.textContent?.trim() === '90', null, { timeout: 20_000 })
      .catch(async (err) => {
        await screenshot(page, 'generate-debug');
        throw new Error(`${err.message}; pick-z=${await page.getByTestId('pick-z').textContent().catch(() => 'none')} hash=${await page.evaluate(() => location.hash)} problems=${browser.problems.join(' | ')}`);
      });
    assert.equal(await page.getByTestId('pick-subject').inputValue(), subjectLabel);
    // FSL MNI152 1 mm (the phantom's grid): MNI z = voxel z - 72.
    assert.equal(await page.getByTestId('pick-mni-z').textContent(), '+18.0 mm');
    // Move the slider to another slice; the MNI z follows.
    await page.getByTestId('pick-slider').fill('89');
    assert.equal(await page.getByTestId('pick-mni-z').textContent(), '+17.0 mm');

    await page.getByTestId('generate-run').selectOption(String(controlnetRunId));
    assert.equal(await page.getByTestId('generate-steps').inputValue(), '2', 'steps default to the run config');
    assert.equal(await page.getByTestId('generate-brain-mask').isChecked(), true, "a desktop run masks to the FLAIR's brain by default");
    await page.getByTestId('generate-samples-count').fill('2');
    await page.getByTestId('generate-seed').fill('3');
    await page.getByTestId('generate-start').click();
    await page.getByTestId('generate-results').waitFor({ timeout: 120_000 });

    for (const panel of ['panel-flair', 'panel-generated', 'panel-real', 'panel-diff', 'panel-std']) {
      const canvas = page.locator(`[data-testid="${panel}"] canvas`);
      await page.waitForFunction((sel) => (document.querySelector(sel)?.width ?? 0) > 0, `[data-testid="${panel}"] canvas`);
      const s = await canvasStats(canvas);
      assert.deepEqual([s.width, s.height], [160, 224], `${panel} is drawn upright at 160x224`);
      assert.ok(s.variance > 1, `${panel} is not blank (variance ${s.variance.toFixed(2)})`);
    }
    assert.equal(await page.locator('[data-testid="generate-samples"] canvas').count(), 2);

    const metric = async (name) => Number(await page.locator(`[data-testid="generate-metrics"] [data-metric="${name}"] .value`).textContent());
    const psnr = await metric('psnr');
    const mae = await metric('mae');
    const msssim = await metric('ms_ssim');
    assert.ok(Number.isFinite(psnr) && psnr > 0, `PSNR shown: ${psnr}`);
    assert.ok(mae > 0 && mae < 1, `MAE shown: ${mae}`);
    assert.ok(msssim > -1 && msssim <= 1, `MS-SSIM shown: ${msssim}`);
    // mean row + one row per seed
    assert.equal(await page.locator('[data-testid="generate-metric-table"] tbody tr').count(), 3);
    assert.match(await page.getByTestId('generate-metric-table').textContent(), /seed 3[\s\S]*seed 4/);
    await screenshot(page, 'generate');

    await page.getByTestId('generate-save').click();
    await page.getByTestId('generate-saved').waitFor({ timeout: 20_000 });
    const { artefacts } = await client.api.artefacts.list({ runId: controlnetRunId, kind: 'image' });
    const roles = artefacts.map((a) => a.meta.role);
    for (const role of ['flair', 'generated', 'mean', 't1w', 'absdiff']) assert.ok(roles.includes(role), `saved ${role} (got ${roles.join(', ')})`);
    assert.deepEqual(browser.problems, []);
  });

  it('shows evaluation runs as model-vs-baseline tables, opens image triples, compares runs and exports CSV', async () => {
    const { api } = client;
    const detail = await api.datasets.detail({ id: datasetId });
    const split = ['test', 'validation', 'train'].find((name) => detail.subjects.some((s) => s.split === name));
    const evalRuns = [];
    for (const seed of [4, 9]) {
      const { run, jobId } = await api.evaluate.start({ runId: controlnetRunId, split, steps: 2, seed, batch: 2, limit: 2, name: `e2e eval seed ${seed} ${TAG}` });
      const deadline = Date.now() + 120_000;
      for (;;) {
        const job = await api.generate.result({ jobId });
        if (job.state === 'completed') break;
        if (job.state === 'failed' || job.state === 'cancelled') throw new Error(`evaluation ${run.id}: ${job.state}: ${job.error}`);
        if (Date.now() > deadline) throw new Error(`evaluation ${run.id} did not finish in 120 s`);
        await new Promise((r) => setTimeout(r, 300));
      }
      evalRuns.push(run.id);
    }
    const expected = await api.evaluate.results({ runId: evalRuns[0], perImage: true });

    // Run page: model and both baselines, mean ± std as the back end computed them.
    await openApp(page, serveUrl(), `/runs/${evalRuns[0]}`);
    const summary = page.getByTestId('evaluation-summary');
    await summary.waitFor({ timeout: 20_000 });
    const methods = await summary.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-method')));
    assert.deepEqual(methods, ['model', ...Object.keys(expected.baselines).sort()]);
    const psnr = expected.model.find((m) => m.name === 'psnr');
    assert.equal(await summary.locator('tr[data-method="model"] td[data-metric="psnr"]').innerText(), `${psnr.mean.toFixed(2)} ± ${psnr.std.toFixed(2)}`);

    // Per-image rows: filter by subject, then open one image's triple.
    const perImageRows = page.locator('[data-testid="per-image-table"] tbody tr');
    assert.equal(await perImageRows.count(), expected.perImage.length);
    await page.getByTestId('per-image-filter').fill('no-such-subject');
    assert.equal(await perImageRows.count(), 0);
    const subject = expected.perImage[0].subject;
    await page.getByTestId('per-image-filter').fill(subject);
    assert.equal(await perImageRows.count(), expected.perImage.filter((r) => r.subject === subject).length);
    await perImageRows.first().click();
    const triple = page.getByTestId('image-triple');
    await triple.waitFor();
    for (const panel of ['triple-flair', 'triple-generated', 'triple-real', 'triple-diff']) {
      const canvas = triple.locator(`[data-testid="${panel}"] canvas`);
      await page.waitForFunction((sel) => (document.querySelector(sel)?.width ?? 0) > 0, `[data-testid="${panel}"] canvas`, { timeout: 10_000 });
      const s = await canvasStats(canvas);
      assert.ok(s.variance > 1, `${panel} is not blank`);
    }
    await screenshot(page, 'evaluation-run');
    await page.getByTestId('image-triple-close').click();

    // Experiments: tick both evaluation runs -> compare table; download the summary CSV.
    await openApp(page, serveUrl(), '/experiments');
    for (const id of evalRuns) await page.locator(`[data-compare-run="${id}"]`).check();
    const compare = page.getByTestId('compare-table');
    await compare.waitFor({ timeout: 10_000 });
    // The table follows the ticks once both runs' results have arrived.
    await page.waitForFunction(
      (n) => document.querySelectorAll('[data-testid="compare-table"] thead th[data-column$="/model"]').length === n,
      evalRuns.length,
      { timeout: 10_000 },
    );
    const columns = await compare.locator('thead th[data-column]').evaluateAll((ths) => ths.map((t) => t.getAttribute('data-column')));
    assert.deepEqual(columns.filter((c) => c.endsWith('/model')), evalRuns.map((id) => `${id}/model`));
    assert.ok(columns.includes(`${evalRuns[0]}/baseline_lut`), `baseline columns shown: ${columns.join(', ')}`);
    await page.getByTestId('compare-baselines').uncheck();
    await page.waitForFunction(() => document.querySelectorAll('[data-testid="compare-table"] thead th[data-column]').length === 2, null, { timeout: 5000 });
    await page.getByTestId('compare-filter').fill('mae');
    const filtered = await compare.locator('tbody tr[data-metric]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-metric')));
    assert.equal(filtered[0], 'mae');
    assert.ok(filtered.every((m) => m.startsWith('mae')), `filtered metrics: ${filtered.join(', ')}`);
    await page.getByTestId('compare-filter').fill('');
    await page.getByTestId('compare-panel').scrollIntoViewIfNeeded();
    await screenshot(page, 'evaluation-compare');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('compare-csv-summary').click()]);
    assert.equal(download.suggestedFilename(), `brainsynth-eval-${evalRuns.join('-')}-summary.csv`);
    const csv = await readFile(await download.path(), 'utf8');
    const { csv: fromApi } = await api.evaluate.exportCsv({ runIds: evalRuns, kind: 'summary' });
    assert.equal(csv, fromApi);
    assert.match(csv.split('\n')[0], /^run_id,run_name,model_run_id,split,method,metric,mean,std/);
    assert.deepEqual(browser.problems, []);
  });

  it('starts an evaluation from the ControlNet run page and follows it to its run', async () => {
    const { api } = client;
    const detail = await api.datasets.detail({ id: datasetId });
    const split = ['test', 'validation', 'train'].find((name) => detail.subjects.some((s) => s.split === name));
    await openApp(page, serveUrl(), `/runs/${controlnetRunId}`);
    const form = page.getByTestId('evaluate-form');
    await form.waitFor();
    await page.getByTestId('evaluate-split').selectOption(split);
    await page.getByTestId('evaluate-limit').fill('2');
    await page.getByTestId('evaluate-steps').fill('2');
    await page.getByTestId('evaluate-start').click();
    await page.locator('[data-testid="evaluate-job"][data-state="completed"]').waitFor({ timeout: 120_000 });
    const link = page.getByTestId('evaluate-run-link');
    const evalRunId = Number((await link.getAttribute('href')).split('/').pop());
    const run = await api.runs.get({ id: evalRunId });
    assert.equal(run.stage, 'evaluation');
    assert.equal(run.status, 'completed');
    assert.deepEqual(run.parents, [{ runId: controlnetRunId, role: 'controlnet' }]);
    const results = await api.evaluate.results({ runId: evalRunId });
    assert.equal(results.images, 2);
    await page.getByTestId('evaluate-form').scrollIntoViewIfNeeded();
    await screenshot(page, 'evaluate-start');
    await link.click();
    await page.waitForURL(new RegExp(`#/runs/${evalRunId}$`));
    assert.deepEqual(browser.problems, []);
  });
  it('disables Generate with the reason on a slice without signal, and enables it inside the brain', async () => {
    // z=5 lies below the phantom's brain: an empty slice.
    await openApp(page, serveUrl(), `/generate?dataset=${datasetId}&subject=${encodeURIComponent(subjectLabel)}&volume=${flairVolumeId}&z=5`);
    await page.getByTestId('generate-form').waitFor();
    await page.waitForFunction(() => document.querySelector('[data-testid="pick-z"]')?.textContent?.trim() === '5', null, { timeout: 20_000 });
    await page.getByTestId('generate-run').selectOption(String(controlnetRunId));
    const reason = page.getByTestId('generate-no-signal');
    await reason.waitFor({ timeout: 20_000 });
    assert.match(await reason.textContent(), new RegExp(`^No signal: ${subjectLabel} z 5 has 0\\.00% of the slice above 5% of the brain intensity \\(generation needs at least 1\\.00%\\)`));
    assert.equal(await page.getByTestId('generate-start').isDisabled(), true);
    await screenshot(page, 'generate-no-signal');
    await page.getByTestId('pick-slider').fill('90');
    await reason.waitFor({ state: 'detached', timeout: 10_000 });
    assert.equal(await page.getByTestId('generate-start').isDisabled(), false);
    // The back end refuses the same slice on its own (a client that skips the check).
    await assert.rejects(client.api.generate.slice({ runId: controlnetRunId, datasetId, subject: subjectLabel, z: 5, steps: 1 }), /slice z=5 has almost no signal: 0\.00%/);
    assert.deepEqual(browser.problems, []);
  });

  it('translates a whole volume from the panel and links the run with the written T1w', async () => {
    const { api } = client;
    await openApp(page, serveUrl(), `/generate?dataset=${datasetId}&subject=${encodeURIComponent(subjectLabel)}&volume=${flairVolumeId}&z=90`);
    const panel = page.getByTestId('translate-panel');
    await panel.waitFor({ timeout: 20_000 });
    await page.getByTestId('generate-run').selectOption(String(controlnetRunId));
    await page.waitForFunction((label) => document.querySelector('[data-testid="translate-subject"]')?.value === label, subjectLabel, { timeout: 20_000 });
    assert.equal(await page.getByTestId('translate-steps').inputValue(), '2', 'steps default to the run config');
    await page.getByTestId('translate-steps').fill('1');
    await page.getByTestId('translate-seed').fill('7');
    const started = Date.now();
    await page.getByTestId('translate-start').click();
    await page.getByTestId('translate-result').waitFor({ timeout: 300_000 });
    console.log(`e2e: whole-volume translation of ${subjectLabel} (tiny 40x56 model, 1 step) took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const sampled = Number(await page.getByTestId('translate-sampled').textContent());
    const skipped = Number(await page.getByTestId('translate-skipped').textContent());
    assert.equal(sampled + skipped, 182, 'every axial slice of the 182-slice phantom is sampled or skipped');
    assert.ok(sampled > 80 && skipped > 20, `sampled ${sampled}, skipped ${skipped}`);
    const outPath = await page.getByTestId('translate-outpath').textContent();
    assert.match(outPath, new RegExp(`runs/${controlnetRunId}/translations/${subjectLabel}_T1w_synth\\.nii\\.gz$`));
    // The run trained one epoch: the panel repeats the slice result's smoke-run caveat.
    assert.match(await page.getByTestId('translate-caveats').textContent(), /trained for 1 epoch \(a smoke run\)/);
    const { artefacts } = await api.artefacts.list({ runId: controlnetRunId, kind: 'volume' });
    assert.ok(artefacts.some((a) => a.path === outPath && a.meta.sampledSlices === sampled), `volume artefact for ${outPath}`);
    await page.getByTestId('translate-result').scrollIntoViewIfNeeded();
    await screenshot(page, 'generate-translate-volume');
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.locator('h1').first().scrollIntoViewIfNeeded();
    await screenshot(page, 'generate-1440x900');
    await page.getByTestId('translate-run-link').click();
    await page.waitForURL(new RegExp(`#/runs/${controlnetRunId}$`));
    assert.deepEqual(browser.problems, []);
  });
});

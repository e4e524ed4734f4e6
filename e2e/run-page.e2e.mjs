// Run page notes, tags and results against a real `brainsynth serve`: a 1-subject phantom is made
// and prepared through the API, a tiny random ControlNet pipeline (test/sample/fixtures.ts) is
// registered as autoencoder -> ldm -> controlnet runs in the server's home; tags and notes are edited
// in the page and must survive a reload and show in the Experiments table; a saved generation and a
// whole-volume translation made through the back end must appear on the open run page without a
// reload, and the volume must open in NiiVue beside its source FLAIR.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectApi, launchBrowser, openApp, preparedPhantom, registerTinyPipeline, screenshot, serveUrl } from './helpers.mjs';

const TAG = Date.now().toString(36);
const RUNS_TABLE = '[data-testid="runs-table"]';

async function waitSamplingJob(api, jobId, timeoutMs = 180_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await api.generate.result({ jobId });
    if (job.state === 'completed') return job;
    if (job.state === 'failed' || job.state === 'cancelled') throw new Error(`sampling job ${jobId}: ${job.state}: ${job.error}`);
    if (Date.now() > deadline) throw new Error(`sampling job ${jobId} did not finish within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

/**
 * Variance of what an element shows (a blank viewer has none): its screenshot, decoded in the
 * page. A screenshot, not the canvas, because a WebGL canvas's buffer may be cleared after drawing.
 */
async function shownVariance(page, locator) {
  const png = (await locator.screenshot({ timeout: 240_000 })).toString('base64');
  return page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const copy = document.createElement('canvas');
    copy.width = img.naturalWidth;
    copy.height = img.naturalHeight;
    const ctx = copy.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const data = ctx.getImageData(0, 0, copy.width, copy.height).data;
    let sum = 0;
    let sq = 0;
    const n = copy.width * copy.height;
    for (let i = 0; i < data.length; i += 4) {
      sum += data[i];
      sq += data[i] * data[i];
    }
    const mean = sum / n;
    return sq / n - mean * mean;
  }, png);
}

describe('Run page: notes, tags and results', () => {
  let browser;
  let client;
  let page;
  let datasetId;
  let subjectLabel;
  let controlnetRunId;

  before(async () => {
    client = connectApi(serveUrl());
    const { api } = client;
    datasetId = await preparedPhantom(api, { subjects: 1, name: `e2e run page ${TAG}`, seed: 3 }, { slices: '89:91', fractions: [1, 1, 1], seed: 1 });
    subjectLabel = (await api.datasets.detail({ id: datasetId })).subjects[0].label;

    const { controlnet } = await registerTinyPipeline(api, {
      datasetId,
      tag: TAG,
      controlnet: {
        // A long name as well as tags: the name cell must still keep the table within 1440 px.
        name: `tiny controlnet with a rather long descriptive name ${TAG}`,
        config: { stage: 'controlnet', controlnet: { sampleSteps: 2, guidanceScale: 7, conditioningScale: 1 } },
      },
    });
    controlnetRunId = controlnet.id;

    browser = await launchBrowser({ viewport: { width: 1440, height: 900 } });
    page = browser.page;
  });

  after(async () => {
    await browser?.close();
    client?.close();
  });

  it('edits tags and notes on the run page; they persist across a reload and show in the Experiments table and its search', async () => {
    await openApp(page, serveUrl(), `/runs/${controlnetRunId}`);
    const notes = page.getByTestId('run-notes');
    await notes.waitFor();

    const tagInput = page.getByTestId('run-tag-input');
    await tagInput.fill('Baseline, paper-fig3, baseline');
    await page.getByTestId('run-tag-add').click();
    await notes.locator('[data-tag="paper-fig3"]').waitFor();
    await tagInput.fill('  to-delete ');
    await tagInput.press('Enter');
    await notes.locator('[data-tag="to-delete"]').waitFor();
    await notes.getByRole('button', { name: 'Remove tag to-delete' }).click();
    await notes.locator('[data-tag="to-delete"]').waitFor({ state: 'detached' });

    await page.getByTestId('run-notes-text').fill(`guidance 7 looks oversharpened ${TAG}\nnext: try 3`);
    await page.getByTestId('run-notes-save').click();
    await page.getByTestId('run-notes-saved').waitFor();
    assert.equal((await client.api.runs.get({ id: controlnetRunId })).notes, `guidance 7 looks oversharpened ${TAG}\nnext: try 3`);

    await page.reload();
    await page.getByTestId('run-notes').waitFor();
    const tags = await page.locator('[data-testid="run-notes"] [data-tag]').evaluateAll((els) => els.map((e) => e.getAttribute('data-tag')));
    assert.deepEqual(tags, ['Baseline', 'paper-fig3']);
    assert.equal(await page.getByTestId('run-notes-text').inputValue(), `guidance 7 looks oversharpened ${TAG}\nnext: try 3`);
    assert.equal(await page.getByTestId('run-notes-save').isDisabled(), true, 'nothing unsaved after a reload');
    await page.getByTestId('run-notes').scrollIntoViewIfNeeded();
    await screenshot(page, 'run-page-notes');

    await openApp(page, serveUrl(), '/experiments');
    const chips = page.locator(`${RUNS_TABLE} [data-run-tags="${controlnetRunId}"] .tag-chip`);
    await chips.first().waitFor();
    assert.deepEqual((await chips.allTextContents()).map((t) => t.trim()), ['Baseline', 'paper-fig3']);
    // The chips sit inside the name cell.
    assert.equal(await page.locator(`${RUNS_TABLE} tr[data-row-key="${controlnetRunId}"] td[data-column="name"] .tag-chip`).count(), 2);

    const overflow = await page.evaluate((sel) => {
      const table = document.querySelector(sel);
      // The test id names the table's scroll box (DataTable's root) itself: it must not scroll either.
      const scrollers = [document.scrollingElement, document.querySelector('main.content'), table, table.parentElement];
      const out = scrollers.filter(Boolean).map((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
      const panel = table.closest('.panel').getBoundingClientRect();
      out.push({ scroll: Math.round(table.getBoundingClientRect().right), client: Math.round(panel.right) });
      return out;
    }, RUNS_TABLE);
    for (const o of overflow) assert.ok(o.scroll <= o.client, `no horizontal scroll with tags: ${JSON.stringify(overflow)}`);
    const metrics = await page.locator(`${RUNS_TABLE} th[data-column="metrics"]`).boundingBox();
    assert.ok(metrics && metrics.x + metrics.width <= 1440, `key metrics column on screen: ${JSON.stringify(metrics)}`);
    await screenshot(page, 'experiments-tags-1440');

    const rowKeys = () => page.locator(`${RUNS_TABLE} tbody tr`).evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-row-key'))));
    const search = page.getByRole('searchbox', { name: 'Filter runs' });
    await search.fill('PAPER-FIG');
    await page.waitForFunction((sel) => document.querySelectorAll(`${sel} tbody tr`).length === 1, RUNS_TABLE);
    assert.deepEqual(await rowKeys(), [controlnetRunId]);
    await search.fill(`oversharpened ${TAG}`);
    await page.waitForFunction((sel) => document.querySelectorAll(`${sel} tbody tr`).length === 1, RUNS_TABLE);
    assert.deepEqual(await rowKeys(), [controlnetRunId]);
    await search.fill('');
    // A chip is a shortcut to its tag's runs.
    await chips.nth(1).click();
    assert.equal(await search.inputValue(), 'paper-fig3');
    assert.deepEqual(await rowKeys(), [controlnetRunId]);
    assert.deepEqual(browser.problems, []);
  });

  it('lists a saved generation and a translated volume as they are made, and opens the volume beside its source FLAIR', async () => {
    const { api } = client;
    await openApp(page, serveUrl(), `/runs/${controlnetRunId}`);
    const translations = page.getByTestId('run-translations');
    await translations.waitFor();
    assert.equal(await translations.getAttribute('data-count'), '0');
    assert.equal(await page.getByTestId('run-generations').count(), 0);

    // Made through the back end while the page is open: the page must pick them up by itself.
    const slice = await api.generate.slice({ runId: controlnetRunId, datasetId, subject: subjectLabel, z: 90, samples: 2, steps: 2, seed: 3 });
    await waitSamplingJob(api, slice.jobId);
    await api.generate.save({ jobId: slice.jobId });
    const gallery = page.getByTestId('run-generations');
    await gallery.waitFor({ timeout: 20_000 });
    const generation = gallery.locator(`[data-testid="run-generation"][data-job-id="${slice.jobId}"]`);
    await generation.waitFor();
    const roles = await generation.locator('[data-role]').evaluateAll((els) => els.map((e) => e.getAttribute('data-role').split(' ')[0]));
    assert.deepEqual(roles, ['flair', 'generated', 'generated', 'mean', 'std', 't1w', 'absdiff']);
    assert.match(await generation.innerText(), new RegExp(`${subjectLabel}[\\s\\S]*slice z 90[\\s\\S]*2 steps[\\s\\S]*seeds 3, 4`));
    // Every thumbnail is drawn (upright: taller than wide).
    await page.waitForFunction(
      (sel) => [...document.querySelectorAll(`${sel} canvas`)].every((c) => c.width > 0),
      `[data-testid="run-generation"][data-job-id="${slice.jobId}"]`,
      { timeout: 20_000 },
    );
    const sizes = await generation.locator('canvas').evaluateAll((cs) => cs.map((c) => [c.width, c.height]));
    assert.ok(sizes.every(([w, h]) => w === 160 && h === 224), `upright 160x224 thumbnails: ${JSON.stringify(sizes)}`);

    const volume = await api.generate.volume({ runId: controlnetRunId, datasetId, subject: subjectLabel, steps: 2, seed: 1, guidanceScale: 5 });
    const done = await waitSamplingJob(api, volume.jobId, 300_000);
    const row = page.locator(`[data-testid="run-translation"][data-artefact-id="${done.volume.artefactId}"]`);
    await row.waitFor({ timeout: 20_000 });
    assert.equal(await row.getByTestId('translation-summary').innerText(), `${subjectLabel} · 2 DDIM steps · guidance 5 · brain mask`, 'a desktop run masks to the brain by default');

    await row.getByTestId('translation-open').click();
    const viewer = page.locator(`[data-testid="translation-viewer"][data-artefact-id="${done.volume.artefactId}"]`);
    await viewer.waitFor();
    // Each viewer holds its volume (NiiVue's own record of it), or the viewer says why not.
    await page.waitForFunction(
      () =>
        document.querySelector('[data-testid="translation-error"]') !== null ||
        ['translation-synth', 'translation-flair'].every((id) => document.querySelector(`[data-testid="${id}"]`)?.getAttribute('data-volumes') === '1'),
      null,
      { timeout: 240_000 },
    );
    const viewerError = page.getByTestId('translation-error');
    if (await viewerError.count()) assert.fail(`the viewer failed: ${await viewerError.innerText()}`);
    for (const id of ['translation-synth', 'translation-flair']) {
      const variance = await shownVariance(page, page.getByTestId(id));
      assert.ok(variance > 1, `${id} shows an image (variance ${variance.toFixed(2)})`);
    }
    assert.match(await viewer.innerText(), new RegExp(`Source FLAIR\\s+${subjectLabel}`));
    await viewer.scrollIntoViewIfNeeded();
    await screenshot(page, 'run-page-translation');
    await gallery.scrollIntoViewIfNeeded();
    await screenshot(page, 'run-page-generations');
    assert.deepEqual(browser.problems, []);
  });
});

// Train view against a real `brainsynth serve`: a 2-subject phantom is made and prepared through
// the API, then a tiny autoencoder run is configured and started from the view's form; the test
// watches the live curve (uPlot series point count) and the progress bar grow until the run ends.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectApi, createRunWithMetrics, launchBrowser, openApp, preparedPhantom, screenshot, serveUrl } from './helpers.mjs';

const NAME = `e2e train phantom ${Date.now().toString(36)}`;

/** Tiny networks on 20x28 slices (160x224 / 8): a few seconds per epoch on 2 CPU cores. */
const TINY_FIELDS = {
  imageSize: '[20, 28]',
  'loop.epochs': '3',
  'loop.batchSize': '1',
  'loop.maxStepsPerEpoch': '8',
  'loop.valEvery': '1',
  'loop.maxValBatches': '1',
  'autoencoder.network.num_channels': '[8, 16]',
  'autoencoder.network.latent_channels': '2',
  'autoencoder.network.norm_num_groups': '4',
  'autoencoder.network.attention_levels': '[false, false]',
  'autoencoder.discriminator.num_channels': '8',
  'autoencoder.discriminator.num_layers_d': '2',
  'autoencoder.advStartEpoch': '1',
};

/** The autoencoder run the first test trains (its run page is checked afterwards). */
let trainedRunId = null;

const attr = (page, testId, name) => page.getByTestId(testId).getAttribute(name);

describe('Train view', () => {
  let browser;
  let client;
  let datasetId;

  before(async () => {
    client = connectApi(serveUrl());
    const { api } = client;
    datasetId = await preparedPhantom(api, { subjects: 2, name: NAME, seed: 3 }, { slices: '84:92', fractions: [0.5, 0.5, 0] });
    browser = await launchBrowser({ viewport: { width: 1440, height: 1000 } });
  });

  after(async () => {
    await browser?.close();
    client?.close();
  });

  it('shows the projected time per step, epoch and run before Start, measured on the back end', async () => {
    const { page, problems } = browser;
    await openApp(page, serveUrl(), '/train');
    const form = page.getByTestId('train-form');
    await form.getByTestId('train-dataset').selectOption(String(datasetId));
    await form.getByTestId('stage-autoencoder').check();
    await form.getByTestId('train-preset').selectOption('desktop');
    await page.locator('[data-field="autoencoder.lr"]').waitFor({ timeout: 20_000 });
    for (const [path, value] of Object.entries(TINY_FIELDS)) await form.getByTestId(`field-${path}`).fill(value);
    await form.getByTestId('train-backend-select').selectOption('wasm');

    // Once the form is valid the estimate runs by itself (a job of the back end's compute lane).
    const result = page.getByTestId('train-estimate-result');
    await page.waitForFunction(
      () => {
        const r = document.querySelector('[data-testid="train-estimate-result"]');
        return r && !r.classList.contains('stale') && !document.querySelector('[data-testid="train-estimate"]')?.getAttribute('aria-busy');
      },
      null,
      { timeout: 90_000 },
    );
    for (const id of ['train-estimate-step', 'train-estimate-epoch', 'train-estimate-run']) {
      assert.match(await page.getByTestId(id).textContent(), /\d/, `${id} shows a duration`);
    }
    const detail = await result.textContent();
    assert.match(detail, /wasm \(\d+ threads?\)/);
    assert.match(detail, /at 20×28/);
    assert.match(detail, /steps per epoch/);
    // Start stays possible, and nothing was started by the estimate.
    assert.equal(await form.getByTestId('train-start').isDisabled(), false);
    assert.equal((await client.api.runs.list({})).runs.filter((r) => r.datasetId === datasetId).length, 0);
    const jobs = (await client.api.jobs.all({})).jobs.filter((j) => j.kind === 'estimate');
    assert.ok(jobs.some((j) => j.state === 'completed' && j.lane === 'compute'), 'an estimate job completed on the compute lane');
    assert.deepEqual(problems, []);
  });

  it('validates the config inline, starts a tiny autoencoder run and follows it live', async () => {
    const { page, problems } = browser;
    await openApp(page, serveUrl(), '/train');
    const form = page.getByTestId('train-form');
    await form.getByTestId('train-dataset').selectOption(String(datasetId));
    await form.getByTestId('stage-autoencoder').check();
    await form.getByTestId('train-preset').selectOption('desktop');

    // The form is generated from the preset, with the reference value next to each field.
    const lr = page.locator('[data-field="autoencoder.lr"]');
    await lr.waitFor({ timeout: 20_000 });
    assert.equal(await form.getByTestId('field-autoencoder.lr').inputValue(), '0.001');
    assert.equal((await lr.locator('td.ref').textContent()).trim(), '0.00001');

    // Inline validation from the back end's own checks: a batch size of 0 is refused on its field.
    await form.getByTestId('field-loop.batchSize').fill('0');
    await page.getByTestId('error-loop.batchSize').waitFor({ timeout: 10_000 });
    assert.match(await page.getByTestId('error-loop.batchSize').textContent(), /loop\.batchSize must be an integer >= 1/);
    assert.equal(await form.getByTestId('train-start').isDisabled(), true);
    // A type error is caught locally.
    await form.getByTestId('field-imageSize').fill('[20, 28');
    assert.match(await page.getByTestId('error-imageSize').textContent(), /expected JSON/);

    for (const [path, value] of Object.entries(TINY_FIELDS)) await form.getByTestId(`field-${path}`).fill(value);
    await form.getByTestId('train-seed').fill('7');
    await form.getByTestId('train-backend-select').selectOption('wasm');
    const start = form.getByTestId('train-start');
    await page.waitForFunction(() => !document.querySelector('[data-testid="train-start"]')?.disabled, null, { timeout: 20_000 });
    assert.equal(await page.getByTestId('train-error').count(), 0);
    // The panel may already watch another run that is marked running (earlier e2e files leave one
    // in the shared home), so the started run is told apart by its id, not by its status alone.
    const live = page.getByTestId('train-live');
    const watchedBefore = (await live.count()) ? await live.getAttribute('data-run-id') : null;
    await start.click();

    // The started run is watched: running, then the curve and the progress bar grow.
    await page.waitForFunction(
      (before) => {
        const el = document.querySelector('[data-testid="train-live"]');
        return el?.getAttribute('data-status') === 'running' && el.getAttribute('data-run-id') !== before;
      },
      watchedBefore,
      { timeout: 30_000 },
    );
    const runId = Number(await live.getAttribute('data-run-id'));
    trainedRunId = runId;
    assert.ok(runId > 0);
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="loss-chart"]')?.getAttribute('data-train-points')) >= 2, null, {
      timeout: 30_000,
    });
    const firstPoints = Number(await attr(page, 'loss-chart', 'data-train-points'));
    const firstStep = Number(await page.getByTestId('train-progress').getAttribute('aria-valuenow'));
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid="loss-chart"]')?.getAttribute('data-train-points')) > n, firstPoints, {
      timeout: 30_000,
    });
    // uPlot drew the series: its legend lists them and the canvas exists.
    assert.equal(await page.locator('[data-testid="loss-chart"] canvas').count(), 1);
    assert.match(await page.locator('[data-testid="loss-chart"] .u-legend').textContent(), /train \(smoothed\).*validation/s);
    assert.match(await page.getByTestId('train-backend').textContent(), /wasm/);
    assert.match(await page.getByTestId('train-epoch').textContent(), /\/ 3/);

    // Let it finish (3 epochs x 8 steps): completed, the bar full, a validation figure shown.
    await page.locator('[data-testid="train-live"][data-status="completed"]').waitFor({ timeout: 60_000 });
    const total = Number(await page.getByTestId('train-progress').getAttribute('aria-valuemax'));
    assert.ok(total >= firstStep, `progress max ${total} >= first step ${firstStep}`);
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="loss-chart"]')?.getAttribute('data-train-points')) >= 24, null, {
      timeout: 15_000,
    });
    assert.ok(Number(await attr(page, 'loss-chart', 'data-validation-points')) >= 1);
    await page.locator('[data-testid="train-figure"] img').waitFor({ timeout: 15_000 });

    // The same series through the API: 24 train steps stored, none duplicated.
    const charted = await attr(page, 'loss-chart', 'data-metric');
    const { series } = await client.api.metrics.query({ runId, split: 'train' });
    const loss = series.find((s) => s.name === charted);
    assert.ok(loss, 'the charted metric exists in the store');
    assert.equal(loss.total, 24);
    assert.equal(new Set(loss.steps).size, loss.steps.length);

    // Smoothing redraws; the log scale rebuilds the plot; neither raises an error.
    await page.getByTestId('chart-smoothing').fill('0.8');
    await page.getByTestId('config-form').evaluate((el) => el.scrollTo(0, 0));
    await page.waitForTimeout(300);
    await screenshot(page, 'train');
    await page.getByTestId('chart-log').check();
    await page.waitForTimeout(300);
    assert.equal(await page.locator('[data-testid="loss-chart"] canvas').count(), 1);
    await page.getByTestId('chart-log').uncheck();

    // The next stage offers the finished autoencoder as its parent; the desktop UNet cannot halve
    // the tiny autoencoder's 10x14 latent twice, and the refusal sits on the field to change.
    await form.getByTestId('stage-ldm').check();
    await page.waitForFunction((id) => document.querySelector('[data-testid="train-parent"]')?.value === String(id), runId, { timeout: 15_000 });
    const numChannels = page.getByTestId('error-ldm.network.num_channels');
    await numChannels.waitFor({ timeout: 20_000 });
    // Its default budget is its share of what the autoencoder left of the 60-minute pipeline, and the form says so.
    assert.match(await form.getByTestId('train-budget-note').textContent(), /^Budget 2\d\.\d min: the LDM's share \(15 of 40\) of the /);
    assert.match(await form.getByTestId('train-budget').inputValue(), /^2\d\.\d$/);
    assert.match(await numChannels.textContent(), /latent cannot be halved/);
    assert.equal(await form.getByTestId('train-start').isDisabled(), true);
    // The refusal above the Start button leads to its field.
    await form.getByTestId('train-error-field').click();
    await page.waitForFunction(() => document.activeElement?.getAttribute('data-testid') === 'field-ldm.network.num_channels', null, { timeout: 5_000 });
    await form.getByTestId('field-ldm.network.num_channels').fill('[16, 32]');
    await form.getByTestId('field-ldm.network.attention_levels').fill('[false, true]');
    await form.getByTestId('field-ldm.network.num_head_channels').fill('[0, 32]');
    await page.waitForFunction(() => !document.querySelector('[data-testid="train-start"]')?.disabled, null, { timeout: 20_000 });
    assert.equal(await numChannels.count(), 0);

    // Start it, cancel it, resume it (the same run continues), cancel again.
    await form.getByTestId('train-start').click();
    await page.waitForFunction((id) => Number(document.querySelector('[data-testid="train-live"]')?.getAttribute('data-run-id')) > id, runId, { timeout: 15_000 });
    const ldmRunId = Number(await live.getAttribute('data-run-id'));
    await page.locator('[data-testid="train-live"][data-status="running"]').waitFor({ timeout: 30_000 });
    await page.getByTestId('train-cancel').click();
    await page.locator('[data-testid="train-live"][data-status="cancelled"]').waitFor({ timeout: 30_000 });
    await page.getByTestId('train-resume').click();
    await page.locator('[data-testid="train-live"][data-status="running"]').waitFor({ timeout: 30_000 });
    assert.equal(Number(await live.getAttribute('data-run-id')), ldmRunId);
    // The watch list's label follows the run's status (it said "cancelled" until the list reloaded).
    await page.waitForFunction(
      (id) => {
        const option = [...(document.querySelector('[data-testid="train-watch"]')?.options ?? [])].find((o) => o.value === String(id));
        return option !== undefined && !option.textContent.includes('cancelled');
      },
      ldmRunId,
      { timeout: 15_000 },
    );
    await page.getByTestId('train-cancel').click();
    await page.locator('[data-testid="train-live"][data-status="cancelled"]').waitFor({ timeout: 30_000 });
    const ldmRun = await client.api.runs.get({ id: ldmRunId });
    assert.equal(ldmRun.stage, 'ldm');
    assert.deepEqual(ldmRun.parents, [{ runId, role: 'autoencoder' }]);
    assert.deepEqual(problems, []);
  });

  it('draws a long history downsampled and appends new points incrementally on the run page', async () => {
    const { page, problems } = browser;
    const { api } = client;
    const run = await createRunWithMetrics(api, { stage: 'autoencoder', name: 'e2e long curve', steps: 20_000, valEvery: 500, status: 'running' });
    await openApp(page, serveUrl(), `/runs/${run.id}`);
    const chart = page.getByTestId('loss-chart');
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="loss-chart"]')?.getAttribute('data-train-points')) > 0, null, { timeout: 15_000 });
    const held = Number(await chart.getAttribute('data-train-points'));
    assert.ok(held >= 1000 && held <= 4000, `the 20000-step history arrives downsampled (${held} points)`);
    assert.equal(await chart.getAttribute('data-validation-points'), '40');
    const points = [];
    for (let step = 20_000; step < 20_500; step++) {
      points.push({ step, name: 'loss', value: 0.01 }, { step, name: 'l1_loss', value: 0.006 });
    }
    await api.metrics.append({ runId: run.id, points });
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid="loss-chart"]')?.getAttribute('data-train-points')) === n, held + 500, {
      timeout: 10_000,
    });
    await screenshot(page, 'train-run-page');
    assert.deepEqual(problems, []);
  });

  it('shows the trained run\'s validation figures on its page: a step slider and column labels', async () => {
    const { page, problems } = browser;
    assert.ok(trainedRunId, 'the training test ran first');
    await openApp(page, serveUrl(), `/runs/${trainedRunId}`);
    const figures = page.getByTestId('run-figures');
    await figures.locator('img').waitFor({ timeout: 15_000 });
    const count = Number(await figures.getAttribute('data-count'));
    assert.ok(count >= 2, `one figure per validation pass (${count})`);
    assert.match(await figures.locator('.labels').innerText(), /input T1w\s+reconstruction/);
    const lastStep = await figures.getAttribute('data-step');
    await figures.getByRole('slider', { name: 'Validation figure step' }).fill('0');
    await page.waitForFunction((s) => document.querySelector('[data-testid="run-figures"]')?.getAttribute('data-step') !== s, lastStep, { timeout: 10_000 });
    await figures.scrollIntoViewIfNeeded();
    await screenshot(page, 'run-figures');
    assert.deepEqual(problems, []);
  });
});

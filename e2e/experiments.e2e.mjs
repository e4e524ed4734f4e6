// Experiments view against a real `brainsynth serve`: runs are created through the API (the same
// typed client as the renderer, over the bridge's WebSocket), then read back through the UI.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  appUrl,
  connectApi,
  createRunWithMetrics,
  launchBrowser,
  openApp,
  screenshot,
  serveUrl,
  startServe,
  tableRowKeys,
} from './helpers.mjs';

const RUNS_TABLE = '[data-testid="runs-table"]';

describe('Experiments view', () => {
  let browser;
  let client;
  const created = {};

  before(async () => {
    client = connectApi(serveUrl());
    browser = await launchBrowser();
    const { api } = client;
    // Names sort differently from ids and creation times, so the sort checks mean something.
    created.ae = await createRunWithMetrics(api, {
      stage: 'autoencoder',
      name: 'e2e ae baseline',
      seed: 42,
      backend: 'wasm',
      config: {
        preset: 'desktop',
        autoencoder: { spatial_dims: 2, num_channels: [64, 128, 128], latent_channels: 3, attention_levels: [false, false, true] },
        optimizer: { lr_g: 5e-5, lr_d: 1e-4 },
        n_epochs: 5,
      },
      start: 0.9,
      steps: 60,
    });
    created.ldm = await createRunWithMetrics(api, {
      stage: 'ldm',
      name: 'e2e ldm warm start',
      seed: 7,
      backend: 'wasm',
      config: { scheduler: { num_train_timesteps: 1000, schedule: 'scaled_linear_beta' }, scale_factor: 0.3 },
      parents: [{ runId: created.ae.id, role: 'autoencoder' }],
      start: 0.4,
      steps: 40,
    });
    created.cn = await createRunWithMetrics(api, {
      stage: 'controlnet',
      name: 'e2e controlnet flair',
      seed: 3,
      backend: 'webgpu',
      config: { conditioning_embedding_num_channels: [16, 32, 96, 256] },
      parents: [{ runId: created.ldm.id, role: 'ldm' }],
      start: 0.7,
      steps: 30,
      status: 'running',
    });
    created.failed = await createRunWithMetrics(api, {
      stage: 'autoencoder',
      name: 'e2e ae diverged',
      seed: 1,
      config: { optimizer: { lr_g: 0.1 } },
      start: 2,
      steps: 12,
      valEvery: 100,
      status: 'failed',
      error: 'loss became NaN at step 12 (lr_g 0.1 is too high for this preset)',
    });
  });

  after(async () => {
    await browser?.close();
    client?.close();
  });

  it('lists the runs created through the API with stage, status, dataset, duration and losses', async () => {
    const { page, problems } = browser;
    await openApp(page, serveUrl(), '/experiments');
    for (const run of Object.values(created)) {
      await page.locator(`${RUNS_TABLE} tr[data-row-key="${run.id}"]`).waitFor();
    }
    const aeRow = page.locator(`${RUNS_TABLE} tr[data-row-key="${created.ae.id}"]`);
    assert.equal(await aeRow.locator('td[data-column="stage"]').innerText(), 'autoencoder');
    assert.equal(await aeRow.locator('td[data-column="status"] [data-status]').getAttribute('data-status'), 'completed');
    assert.match(await aeRow.locator('td[data-column="duration"]').innerText(), /\d/);

    // The table shows the summary the store computed: the last train and best validation value of one named loss.
    const { metrics } = await client.api.runs.summary({ runId: created.ae.id });
    const trainLoss = metrics.find((m) => m.name === 'loss' && m.split === 'train');
    const valLoss = metrics.find((m) => m.name === 'loss' && m.split === 'validation');
    assert.ok(trainLoss && valLoss, 'the store summarised train and validation loss');
    const keyCell = aeRow.locator('td[data-column="metrics"]');
    assert.equal(await keyCell.locator('[data-key-metric="train loss"] .num').innerText(), String(Number(trainLoss.last.value.toPrecision(4))));
    assert.equal(await keyCell.locator('[data-key-metric="best val loss"] .num').innerText(), String(Number(valLoss.best.value.toPrecision(4))));

    const failedRow = page.locator(`${RUNS_TABLE} tr[data-row-key="${created.failed.id}"]`);
    assert.equal(await failedRow.locator('[data-status]').getAttribute('data-status'), 'failed');
    assert.deepEqual(problems, []);
  });

  it('sorts by a column in both directions', async () => {
    const { page } = browser;
    const ours = new Set(Object.values(created).map((r) => String(r.id)));
    const ourOrder = async () => (await tableRowKeys(page, 'runs-table')).filter((k) => ours.has(k));
    const byName = Object.values(created)
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((r) => String(r.id));

    await page.locator(`${RUNS_TABLE} th[data-column="name"] button`).click();
    assert.equal(await page.locator(`${RUNS_TABLE} th[data-column="name"]`).getAttribute('aria-sort'), 'ascending');
    assert.deepEqual(await ourOrder(), byName);

    await page.locator(`${RUNS_TABLE} th[data-column="name"] button`).click();
    assert.equal(await page.locator(`${RUNS_TABLE} th[data-column="name"]`).getAttribute('aria-sort'), 'descending');
    assert.deepEqual(await ourOrder(), [...byName].reverse());

    // Key metrics sort by their first value (the train loss of training runs), smallest first;
    // runs without one sink to the bottom.
    await page.locator(`${RUNS_TABLE} th[data-column="metrics"] button`).click();
    const values = await page
      .locator(`${RUNS_TABLE} tbody td[data-column="metrics"]`)
      .evaluateAll((cells) => cells.map((c) => c.querySelector('[data-key-metric] .num')?.textContent.trim() ?? '—'));
    const ourValues = values.filter((v) => v !== '—').map(Number);
    assert.ok(ourValues.length >= 4);
    const firstDash = values.indexOf('—');
    assert.ok(firstDash === -1 || values.slice(firstDash).every((v) => v === '—'), `runs without a metric sink: ${values}`);

    await page.locator(`${RUNS_TABLE} th[data-column="name"] button`).click();
    await screenshot(page, 'experiments');
  });

  it('filters by text and by stage', async () => {
    const { page } = browser;
    const search = page.getByRole('searchbox', { name: 'Filter runs' });
    await search.fill('diverged');
    assert.deepEqual(await tableRowKeys(page, 'runs-table'), [String(created.failed.id)]);
    await search.fill(`#${created.ldm.id}`);
    assert.deepEqual(await tableRowKeys(page, 'runs-table'), [String(created.ldm.id)]);
    await search.fill('no run is called this');
    await page.getByText('No run matches this filter.').waitFor();
    await search.fill('');
    await page.getByRole('group', { name: 'Filter by stage' }).getByRole('button', { name: /^controlnet/ }).click();
    const keys = await tableRowKeys(page, 'runs-table');
    assert.ok(keys.includes(String(created.cn.id)) && !keys.includes(String(created.ae.id)));
    await page.getByRole('group', { name: 'Filter by stage' }).getByRole('button', { name: /^All/ }).click();
  });

  it('refreshes live when a run is created or its metrics arrive', async () => {
    const { page } = browser;
    const run = await client.api.runs.create({ stage: 'evaluation', name: 'e2e live evaluation', config: { split: 'test' } });
    await page.locator(`${RUNS_TABLE} tr[data-row-key="${run.id}"]`).waitFor({ timeout: 10_000 });
    const cell = page.locator(`${RUNS_TABLE} tr[data-row-key="${run.id}"] td[data-column="metrics"]`);
    assert.equal((await cell.innerText()).trim(), '');
    // An evaluation shows its mean PSNR over the images, not its last per-image row.
    await client.api.metrics.append({
      runId: run.id,
      points: [
        { step: 0, split: 'test', name: 'psnr', value: 24 },
        { step: 1, split: 'test', name: 'psnr', value: 26 },
      ],
    });
    await page.waitForFunction(
      (sel) => document.querySelector(sel)?.textContent?.trim() === '25 dB',
      `${RUNS_TABLE} tr[data-row-key="${run.id}"] [data-key-metric="PSNR"] .num`,
      { timeout: 10_000 },
    );
  });

  it('fits a 1440x900 window without horizontal scrolling', async () => {
    const { page } = browser;
    await page.setViewportSize({ width: 1440, height: 900 });
    await openApp(page, serveUrl(), '/experiments');
    await page.locator(`${RUNS_TABLE} tr[data-row-key="${created.ae.id}"]`).waitFor();
    const overflow = await page.evaluate((sel) => {
      const table = document.querySelector(sel);
      // The test id names the table's scroll box (DataTable's root) itself: it must not scroll either.
      const scrollers = [document.scrollingElement, document.querySelector('main.content'), table, table.parentElement];
      const out = scrollers.filter(Boolean).map((el) => ({ scroll: el.scrollWidth, client: el.clientWidth }));
      // The panel clips what does not fit: the table must end inside it.
      const panel = table.closest('.panel').getBoundingClientRect();
      out.push({ scroll: Math.round(table.getBoundingClientRect().right), client: Math.round(panel.right) });
      return out;
    }, RUNS_TABLE);
    for (const o of overflow) assert.ok(o.scroll <= o.client, `no horizontal scroll: ${JSON.stringify(overflow)}`);
    // The last column (the key metrics a reader compares) is on screen.
    const box = await page.locator(`${RUNS_TABLE} th[data-column="metrics"]`).boundingBox();
    assert.ok(box && box.x + box.width <= 1440, `key metrics column on screen: ${JSON.stringify(box)}`);
    await screenshot(page, 'experiments-1440');
  });

  it('compares the loss curves and configs of two training runs', async () => {
    const { page, problems } = browser;
    await openApp(page, serveUrl(), '/experiments');
    await page.locator(`[data-compare-run="${created.ae.id}"]`).check();
    await page.locator(`[data-compare-run="${created.failed.id}"]`).check();
    // An evaluation cannot join a compare of training runs.
    const chart = page.getByTestId('compare-chart');
    await page.waitForFunction(() => document.querySelector('[data-testid="compare-chart"]')?.getAttribute('data-series') === '2', null, { timeout: 10_000 });
    assert.equal(await chart.getAttribute('data-metric'), 'loss');
    assert.equal(await chart.locator('canvas').count(), 1);
    // Both runs are in the legend.
    const legend = await page.locator('[data-testid="compare-training"] .u-legend').innerText();
    assert.match(legend, /e2e ae baseline/);
    assert.match(legend, /e2e ae diverged/);
    // The config diff lists what differs, with both values.
    const diff = page.getByTestId('config-diff');
    const lrRow = diff.locator('tr', { hasText: 'optimizer.lr_g' });
    assert.match(await lrRow.innerText(), /0\.00005|5e-5|0\.0000500/);
    assert.match(await lrRow.innerText(), /0\.1/);
    await page.getByTestId('compare-training').scrollIntoViewIfNeeded();
    await screenshot(page, 'compare-training');
    await page.getByRole('button', { name: 'Clear selection' }).click();
    assert.deepEqual(problems, []);
  });

  it('opens a run page with header, parents, config tree and metric table', async () => {
    const { page, problems } = browser;
    await openApp(page, serveUrl(), '/experiments');
    await page.locator(`${RUNS_TABLE} tr[data-row-key="${created.ldm.id}"]`).click();
    await page.waitForURL(new RegExp(`#/runs/${created.ldm.id}$`));
    assert.equal(await page.getByTestId('run-title').innerText(), 'e2e ldm warm start');
    assert.equal(await page.title(), `Run #${created.ldm.id} · brainsynth`);

    // Parent link leads to the autoencoder run.
    const parent = page.locator(`a[data-parent-id="${created.ae.id}"]`);
    assert.equal(await parent.innerText(), `#${created.ae.id}`);

    // Config: nested groups with their leaves.
    const tree = page.getByTestId('config-tree');
    await tree.locator('dt[data-path="scheduler.num_train_timesteps"]').waitFor();
    const configText = await tree.innerText();
    assert.match(configText, /scheduler/);
    assert.match(configText, /scaled_linear_beta/);
    assert.match(configText, /1000/);

    // Metric table: one row per metric and split, with counts matching what was appended.
    const metricsTable = page.getByTestId('metrics-table');
    const rowKeys = await tableRowKeys(page, 'metrics-table');
    assert.deepEqual(rowKeys, ['l1_loss/train', 'loss/train', 'loss/validation']);
    const lossRow = metricsTable.locator('tr[data-row-key="loss/train"]');
    assert.equal(await lossRow.locator('td[data-column="count"]').innerText(), '40');
    assert.equal(await lossRow.locator('td[data-column="lastStep"]').innerText(), '39');
    assert.equal((await metricsTable.locator('tr[data-row-key="loss/validation"] td[data-column="count"]').innerText()), '4');
    await screenshot(page, 'run');

    // The table follows new points while the page is open (same push events as the loss chart).
    await client.api.metrics.append({ runId: created.ldm.id, points: [{ step: 40, name: 'loss', value: 0.5 }] });
    await page.waitForFunction(
      (sel) => document.querySelector(sel)?.textContent?.trim() === '41',
      '[data-testid="metrics-table"] tr[data-row-key="loss/train"] td[data-column="count"]',
      { timeout: 10_000 },
    );
    assert.equal(await lossRow.locator('td[data-column="lastStep"]').innerText(), '40');

    await parent.click();
    await page.waitForURL(new RegExp(`#/runs/${created.ae.id}$`));
    assert.equal(await page.getByTestId('run-title').innerText(), 'e2e ae baseline');
    assert.deepEqual(problems, []);
  });

  it('shows why a failed run failed', async () => {
    const { page } = browser;
    await openApp(page, serveUrl(), `/runs/${created.failed.id}`);
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(await alert.innerText(), /loss became NaN at step 12/);
  });

  it('renames a run and deletes one with its files after asking; refuses to delete a parent', async () => {
    const { page, problems } = browser;
    const run = await createRunWithMetrics(client.api, { stage: 'ldm', name: 'e2e to delete', steps: 5 });
    await openApp(page, serveUrl(), `/runs/${run.id}`);
    await page.getByTestId('run-rename').click();
    await page.getByTestId('run-name-input').fill('e2e renamed then deleted');
    await page.getByTestId('run-actions').getByRole('button', { name: 'Save' }).click();
    await page.waitForFunction(() => document.querySelector('[data-testid="run-title"]')?.textContent === 'e2e renamed then deleted', null, { timeout: 10_000 });
    assert.equal((await client.api.runs.get({ id: run.id })).name, 'e2e renamed then deleted');

    await page.getByTestId('run-delete').click();
    const confirm = page.getByTestId('run-delete-confirm');
    assert.match(await confirm.innerText(), /metrics, checkpoints, images and its folder/);
    await screenshot(page, 'run-delete-confirm');
    await page.getByTestId('run-delete-yes').click();
    await page.waitForURL(/#\/experiments$/);
    await page.locator(`${RUNS_TABLE} tr[data-row-key="${created.ae.id}"]`).waitFor();
    assert.equal(await page.locator(`${RUNS_TABLE} tr[data-row-key="${run.id}"]`).count(), 0);
    await assert.rejects(client.api.runs.get({ id: run.id }), /does not exist/);

    // The autoencoder the LDM run was trained from stays, and the page says why.
    await openApp(page, serveUrl(), `/runs/${created.ae.id}`);
    await page.getByTestId('run-delete').click();
    await page.getByTestId('run-delete-yes').click();
    const why = page.getByTestId('run-action-error');
    await why.waitFor();
    assert.match(await why.innerText(), new RegExp(`parent of run #${created.ldm.id}`));
    assert.doesNotMatch(await why.innerText(), /runs\.delete/);
    assert.ok(await client.api.runs.get({ id: created.ae.id }));
    assert.deepEqual(problems, []);
  });

  it('answers a malformed API call with a clear error and writes nothing', async () => {
    const { page } = browser;
    await openApp(page, serveUrl(), '/experiments');
    const before = await client.api.runs.list({});
    const outcome = await page.evaluate(async () => {
      try {
        await window.api.runs.create({ stage: 'diffusion', seed: 'forty-two' });
        return { ok: true };
      } catch (err) {
        return { ok: false, name: err.name, code: err.code, channel: err.channel, message: err.message, issues: err.issues };
      }
    });
    assert.equal(outcome.ok, false);
    assert.equal(outcome.code, 'invalid_request');
    // The page shows the problem, not the internal channel name (which stays on the error).
    assert.equal(outcome.channel, 'runs.create');
    assert.doesNotMatch(outcome.message, /^runs\.create/);
    const paths = (outcome.issues ?? []).map((i) => i.path);
    assert.ok(paths.includes('stage') && paths.includes('seed'), `issues name the bad fields: ${JSON.stringify(outcome.issues)}`);

    const unknown = await page.evaluate(async () => {
      try {
        await window.api.invoke('runs.drop', {});
        return null;
      } catch (err) {
        return { code: err.code, message: err.message };
      }
    });
    assert.equal(unknown?.code, 'unknown_channel');
    assert.match(unknown.message, /runs\.drop/);

    const afterList = await client.api.runs.list({});
    assert.equal(afterList.total, before.total);
  });
});

describe('opening the bridge without its token', () => {
  it('explains how to connect instead of showing a blank page', async () => {
    const { page, close } = await launchBrowser();
    try {
      const url = new URL(serveUrl());
      url.search = '';
      await page.goto(appUrl(url.toString(), '/experiments'));
      const banner = page.getByTestId('boot-error');
      await banner.waitFor();
      assert.match(await banner.innerText(), /token/);
      await page.locator('[data-testid="connection-state"][data-status="disconnected"]').waitFor({ timeout: 10_000 });
    } finally {
      await close();
    }
  });
});

describe('a fresh workspace', () => {
  it('tells a newcomer what to do next on every view', async () => {
    const server = await startServe();
    const { page, problems, close } = await launchBrowser();
    try {
      await openApp(page, server.url, '/experiments');
      await page.getByText('No runs yet').waitFor();
      assert.match(await page.locator('main').innerText(), /brainsynth train --stage autoencoder/);
      await page.locator('a[data-nav="data"]').click();
      await page.getByText('No datasets yet').waitFor();
      assert.match(await page.locator('main').innerText(), /brainsynth data phantom --subjects 5 --name phantom/);
      await page.locator('a[data-nav="train"]').click();
      await page.getByText('No prepared dataset yet').waitFor();
      await page.locator('a[data-nav="generate"]').click();
      await page.getByText('No trained ControlNet yet').waitFor();
      assert.deepEqual(problems, []);
    } finally {
      await close();
      await server.stop();
    }
  });
});

// Data view against a real `brainsynth serve`: a 2-subject phantom is made and prepared through
// the UI forms (dataset jobs in the server's worker), then a subject is opened in the two NiiVue
// viewers and a slice is picked by keyboard, click and slider.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { connectApi, launchBrowser, openApp, repoRoot, screenshot, serveUrl } from './helpers.mjs';
import { readNifti } from '../src/ml/data/nifti.ts';

const NAME = `e2e phantom ${Date.now().toString(36)}`;
const OPEN_MS = join(repoRoot, '..', 'shared', 'data', 'open-ms-mni');
// FSL MNI152 1 mm (the phantom's grid): MNI z = voxel z - 72.
const mniText = (z) => `${z - 72 > 0 ? '+' : ''}${(z - 72).toFixed(1)} mm`;

describe('Data view', () => {
  let browser;
  let client;
  let page;
  let datasetId;

  before(async () => {
    client = connectApi(serveUrl());
    browser = await launchBrowser({ viewport: { width: 1440, height: 1000 } });
    page = browser.page;
  });

  after(async () => {
    await browser?.close();
    client?.close();
  });

  const readZ = async () => Number(await page.getByTestId('picked-z').textContent());

  it('creates a synthetic phantom from the form and shows its job until done', async () => {
    await openApp(page, serveUrl(), '/data');
    const form = page.getByTestId('phantom-form');
    await form.getByTestId('phantom-name').fill(NAME);
    await form.getByTestId('phantom-subjects').fill('2');
    await form.getByRole('button', { name: 'Generate phantom' }).click();
    await page.locator('[data-job-kind="phantom"]').first().waitFor({ timeout: 10_000 });
    await page.locator('[data-job-kind="phantom"][data-job-state="completed"]').waitFor({ timeout: 180_000 });
    const { datasets } = await client.api.datasets.list();
    const created = datasets.find((d) => d.name === NAME);
    assert.ok(created, `dataset "${NAME}" was stored`);
    assert.equal(created.subjectCount, 2);
    assert.equal(created.synthetic, true);
    datasetId = created.id;
    const row = page.locator(`[data-testid="datasets-table"] tbody tr[data-row-key="${datasetId}"]`);
    await row.waitFor({ timeout: 10_000 });
    assert.match(await row.textContent(), /SYNTHETIC PHANTOM/);
    await screenshot(page, 'data-list');
    // A second job with the same name is refused before it is queued, with the reason.
    await form.getByRole('button', { name: 'Generate phantom' }).click();
    await page.getByText(`a dataset named "${NAME}" already exists`).waitFor({ timeout: 10_000 });
  });

  it('offers "Choose folder…" for import only where the host has a folder dialog', async () => {
    // A browser page (the bridge) has none: the typed path is the only way, and app.info says so.
    await openApp(page, serveUrl(), '/data');
    await page.getByTestId('import-dir').waitFor();
    const info = await page.evaluate(() => window.api.app.info({}));
    assert.equal(info.canPickFolder, false);
    assert.deepEqual(await page.evaluate(() => window.api.app.pickFolder({})), { supported: false, path: null });
    assert.equal(await page.getByTestId('import-pick').count(), 0);

    // Where the host answers app.pickFolder (Electron main), the button fills the folder and a
    // name from it. The host is stood in for by wrapping the page's api before the app uses it.
    const desk = await browser.context.newPage();
    await desk.addInitScript(() => {
      let wrapped;
      Object.defineProperty(window, 'api', {
        configurable: true,
        get: () => wrapped,
        set: (real) => {
          const app = {
            info: async (req) => ({ ...(await real.app.info(req)), canPickFolder: true }),
            pickFolder: async () => ({ supported: true, path: '/data/studies/ms-cohort' }),
          };
          wrapped = new Proxy(real, { get: (target, key) => (key === 'app' ? app : target[key]) });
        },
      });
    });
    await openApp(desk, serveUrl(), '/data');
    const pick = desk.getByTestId('import-pick');
    await pick.waitFor({ timeout: 10_000 });
    await pick.click();
    await desk.waitForFunction(() => document.querySelector('[data-testid="import-dir"]')?.value === '/data/studies/ms-cohort', null, { timeout: 5_000 });
    assert.equal(await desk.getByTestId('import-name').inputValue(), 'ms-cohort');
    await desk.close();
  });

  it('prepares the reference slices from the dataset page', async () => {
    await page.locator(`[data-testid="datasets-table"] tbody tr[data-row-key="${datasetId}"]`).click();
    await page.getByTestId('dataset-page').waitFor();
    assert.equal(await page.getByTestId('synthetic-badge').textContent(), 'SYNTHETIC PHANTOM');
    assert.match(await page.getByTestId('attribution').textContent(), /SYNTHETIC/);
    const form = page.getByTestId('prepare-form');
    await form.locator('input').first().fill('reference');
    await form.getByRole('button').click();
    await page.getByTestId('prepared-counts').waitFor({ timeout: 120_000 });
    const counts = await page.getByTestId('prepared-counts').textContent();
    // 5 reference slices per subject, 2 subjects split by seeded fractions.
    const total = [...counts.matchAll(/(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    assert.equal(total, 10, `prepared counts: ${counts}`);
  });

  it('opens a subject in two NiiVue viewers and picks a slice by keyboard, click and slider', async () => {
    await page.locator('[data-testid="subjects-table"] tbody tr').first().click();
    await page.getByTestId('subject-viewer').waitFor();
    // The view starts on the middle prepared slice: reference = z 89..93 -> 91. Four ~30 MB
    // volumes decoded by NiiVue on software WebGL (SwiftShader) on shared CPUs: allow minutes.
    await page.waitForFunction(() => document.querySelector('[data-testid="picked-z"]')?.textContent?.trim() === '91', null, { timeout: 240_000 });
    await page.locator('[data-testid="subject-viewer"][data-loading="false"]').waitFor({ timeout: 120_000 });
    assert.equal(await page.getByTestId('picked-mni-z').textContent(), mniText(91));
    assert.match(await page.getByTestId('picked-prepared').textContent(), /in prepared set/);
    assert.equal(await page.getByTestId('slice-strip').getAttribute('data-prepared-count'), '5');

    // Keyboard on the focused viewer: up/down step the axial slice (not NiiVue's in-plane move).
    await page.getByTestId('viewer-flair').focus();
    await page.keyboard.press('ArrowUp');
    assert.equal(await readZ(), 92);
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('ArrowDown');
    assert.equal(await readZ(), 89);
    await page.keyboard.press('ArrowDown');
    assert.equal(await readZ(), 88);
    assert.equal(await page.getByTestId('picked-mni-z').textContent(), mniText(88));
    assert.match(await page.getByTestId('picked-prepared').textContent(), /not in prepared set/);

    // Click in the coronal view: higher on the screen is more superior (larger z).
    await page.locator('[data-layout="coronal"]').click();
    const canvas = page.getByTestId('viewer-t1w');
    const box = await canvas.boundingBox();
    await canvas.click({ position: { x: box.width / 2, y: box.height * 0.3 } });
    const zHigh = await readZ();
    await canvas.click({ position: { x: box.width / 2, y: box.height * 0.7 } });
    const zLow = await readZ();
    assert.ok(zHigh > zLow + 20, `click picks the slice under the cursor (upper ${zHigh}, lower ${zLow})`);
    assert.equal(await page.getByTestId('picked-mni-z').textContent(), mniText(zLow));
    assert.equal(await page.getByTestId('slice-slider').inputValue(), String(zLow));

    // Slider back to a prepared slice; then the multiplanar view for the screenshot.
    await page.getByTestId('slice-slider').fill('90');
    assert.equal(await readZ(), 90);
    assert.equal(await page.getByTestId('picked-mni-z').textContent(), mniText(90));
    assert.match(await page.getByTestId('picked-prepared').textContent(), /in prepared set · (train|validation|test)/);
    await page.locator('[data-layout="multiplanar"]').click();
  });

  it('links window/level presets and right-drag across both viewers, reads values under the cursor, zooms and resets', async (t) => {
    // Each window change re-blends both viewers' volumes: instant on a GPU, up to a minute on
    // SwiftShader on shared CPUs, during which the page answers nothing. Wait, do not fail.
    page.setDefaultTimeout(240_000);
    t.after(() => page.setDefaultTimeout(30_000));
    const home = process.env.BRAINSYNTH_E2E_HOME;
    const label = (await page.locator('.subject-nav a.on').textContent()).trim();
    const volumeFile = (modality) => join(home, 'datasets', String(datasetId), label, 'anat', `${label}_${modality}.nii.gz`);
    const [flairVol, t1Vol] = await Promise.all([readNifti(volumeFile('FLAIR')), readNifti(volumeFile('T1w'))]);
    const parseWindow = async (side) => {
      const m = (await page.getByTestId(`window-${side}`).textContent()).match(/W (\S+) L (\S+)/);
      return { width: Number(m[1]), level: Number(m[2]) };
    };
    const near = (a, b, what, rel = 0.01) => assert.ok(Math.abs(a - b) <= rel * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
    const range = (data) => data.reduce(([lo, hi], v) => [Math.min(lo, v), Math.max(hi, v)], [Infinity, -Infinity]);

    // Auto: a robust window inside each volume's value range.
    assert.equal(await page.getByTestId('window-preset').inputValue(), 'auto');
    const autoF = await parseWindow('flair');
    const autoT = await parseWindow('t1w');
    const [fMin, fMax] = range(flairVol.data);
    const [tMin, tMax] = range(t1Vol.data);
    assert.ok(autoF.width > 0 && autoF.width <= fMax - fMin, `FLAIR auto width ${autoF.width}`);
    assert.ok(autoT.width > 0 && autoT.width <= tMax - tMin, `T1w auto width ${autoT.width}`);

    // A preset applies to both viewers, each from its own values: full range = min..max.
    const flairPixels = await page.getByTestId('viewer-flair').screenshot();
    const t1Pixels = await page.getByTestId('viewer-t1w').screenshot();
    await page.getByTestId('window-preset').selectOption('full');
    near((await parseWindow('flair')).width, fMax - fMin, 'FLAIR full-range width');
    near((await parseWindow('t1w')).width, tMax - tMin, 'T1w full-range width');
    // ... and is drawn: both images change (only the base layer is recoloured, not the mask). The
    // change lands on the next animation frame: each screenshot waits for one, a few suffice.
    const redrawn = async (side, previous) => {
      for (let shot = 0; shot < 20; shot++) if (!(await page.getByTestId(`viewer-${side}`).screenshot()).equals(previous)) return true;
      return false;
    };
    assert.ok(await redrawn('flair', flairPixels), 'the FLAIR viewer redraws with the new window');
    assert.ok(await redrawn('t1w', t1Pixels), 'the T1w viewer redraws with the new window');
    await page.getByTestId('window-preset').selectOption('auto');

    // Right-drag in the FLAIR viewer: 100 px to the right widens both windows by 2^(100/200).
    assert.match(await page.getByTestId('mouse-hint').textContent(), /Right-drag: window\/level/);
    const flair = page.getByTestId('viewer-flair');
    const fBox = await flair.boundingBox();
    const from = { x: fBox.x + fBox.width * 0.3, y: fBox.y + fBox.height * 0.5 };
    await page.mouse.move(from.x, from.y);
    await page.mouse.down({ button: 'right' });
    await page.mouse.move(from.x + 50, from.y, { steps: 3 });
    await page.mouse.move(from.x + 100, from.y, { steps: 3 });
    await page.mouse.up({ button: 'right' });
    near((await parseWindow('flair')).width, autoF.width * Math.SQRT2, 'FLAIR width after drag', 0.02);
    near((await parseWindow('t1w')).width, autoT.width * Math.SQRT2, 'T1w width after drag', 0.02);
    assert.equal(await page.getByTestId('window-preset').inputValue(), 'custom');

    // The readout follows the mouse: voxel, MNI mm (phantom grid: x = 90 - i, y = j - 126, z = k - 72)
    // and both volumes' values there, as stored in the files.
    const t1 = page.getByTestId('viewer-t1w');
    const tBox = await t1.boundingBox();
    await page.mouse.move(tBox.x + tBox.width * 0.25, tBox.y + tBox.height * 0.45);
    await page.waitForFunction(() => document.querySelector('[data-testid="cursor-readout"]')?.getAttribute('data-source') === 'cursor', null, { timeout: 240_000 });
    const [i, j, k] = (await page.getByTestId('readout-vox').textContent()).split(',').map((v) => Number(v.trim()));
    assert.equal(k, await readZ(), 'hovering the axial tile reads the picked slice');
    const [nx, ny] = flairVol.dims;
    const at = (vol) => vol.data[i + nx * (j + ny * k)];
    near(Number(await page.getByTestId('readout-flair').textContent()), at(flairVol), `FLAIR value at ${i},${j},${k}`, 0.002);
    near(Number(await page.getByTestId('readout-t1w').textContent()), at(t1Vol), `T1w value at ${i},${j},${k}`, 0.002);
    const mm = (await page.getByTestId('readout-mm').textContent()).split(',').map((v) => Number(v.trim()));
    assert.deepEqual(mm, [90 - i, j - 126, k - 72]);
    await page.mouse.move(tBox.x - 20, tBox.y - 20);
    await page.waitForFunction(() => document.querySelector('[data-testid="cursor-readout"]')?.getAttribute('data-source') === 'crosshair', null, { timeout: 240_000 });

    // Zoom both viewers, switch right-drag to pan (stated in the hint), then reset everything.
    await page.getByTestId('zoom-in').click();
    await page.getByTestId('zoom-in').click();
    assert.equal(await page.getByTestId('zoom-level').textContent(), '156%');
    await page.getByTestId('right-drag').selectOption('pan');
    assert.match(await page.getByTestId('mouse-hint').textContent(), /Right-drag: pan \(both viewers\); scroll wheel zooms/);
    await page.getByTestId('right-drag').selectOption('window');
    await page.getByTestId('reset-view').click();
    assert.equal(await page.getByTestId('zoom-level').textContent(), '100%');
    assert.equal(await page.getByTestId('window-preset').inputValue(), 'auto');
    assert.deepEqual(await parseWindow('flair'), autoF);
    assert.deepEqual(await parseWindow('t1w'), autoT);
  });

  it('refuses "Use as condition" outside the prepared band, with the reason', async () => {
    await page.getByTestId('slice-slider').fill('88');
    assert.equal(await page.getByTestId('use-as-condition').isDisabled(), true);
    assert.match(await page.getByTestId('condition-refusal').textContent(), /slice 88 is outside this subject's prepared band \(z 89–93\)/);
    await page.getByTestId('slice-slider').fill('90');
    assert.equal(await page.getByTestId('use-as-condition').isDisabled(), false);
    assert.equal(await page.getByTestId('condition-refusal').count(), 0);
  });

  it('toggles the lesion-mask overlay', async () => {
    const flair = page.getByTestId('viewer-flair');
    const toggle = page.getByTestId('lesion-toggle');
    assert.equal(await toggle.isChecked(), true);
    await screenshot(page, 'data');
    // The crosshair sits on a prepared slice of the phantom, whose lesions lie in the white matter the planes cut.
    const withMask = await flair.screenshot();
    // NiiVue re-blends the overlay layers of both viewers: instant on a GPU, about a minute on SwiftShader.
    await toggle.uncheck({ timeout: 240_000 });
    await page.waitForTimeout(200);
    const without = await flair.screenshot({ timeout: 240_000 });
    assert.notDeepEqual(withMask, without, 'the FLAIR viewer changes when the lesion overlay is hidden');
  });

  it('overlays a template read from a local file (no server round trip)', async () => {
    // Any NIfTI on the MNI grid serves as the "template" here: the other phantom subject's T1w.
    const home = process.env.BRAINSYNTH_E2E_HOME;
    const file = join(home, 'datasets', String(datasetId), 'sub-phantom02', 'anat', 'sub-phantom02_T1w.nii.gz');
    assert.ok(existsSync(file), file);
    const volumeRequests = [];
    const onRequest = (r) => r.url().includes('/volumes/') && volumeRequests.push(r.url());
    page.on('request', onRequest);
    await page.getByTestId('template-input').setInputFiles(file);
    await page.getByText('sub-phantom02_T1w.nii.gz').waitFor({ timeout: 240_000 });
    page.off('request', onRequest);
    assert.deepEqual(volumeRequests, [], 'the template is read in the page, not fetched');
    await page.getByRole('button', { name: 'remove' }).click({ timeout: 240_000 });
    await page.getByText('sub-phantom02_T1w.nii.gz').waitFor({ state: 'hidden', timeout: 240_000 });
  });

  it('switches subject in the same viewers: both show the new subject and read out its values', async (t) => {
    // Two volumes uploaded per viewer on SwiftShader on shared CPUs: allow minutes, as above.
    page.setDefaultTimeout(240_000);
    t.after(() => page.setDefaultTimeout(30_000));
    const home = process.env.BRAINSYNTH_E2E_HOME;
    const volumeFile = (label, modality) => join(home, 'datasets', String(datasetId), label, 'anat', `${label}_${modality}.nii.gz`);
    const previous = (await page.locator('.subject-nav a.on').textContent()).trim();
    const next = await page.locator('.subject-nav a:not(.on)').first().getAttribute('data-subject');
    assert.notEqual(next, previous);
    // The canvases (one NiiVue instance each) are kept across the switch, not re-created.
    await page.getByTestId('viewer-flair').evaluate((c) => c.setAttribute('data-e2e-kept', 'yes'));
    await page.mouse.move(0, 0);
    await page.locator(`.subject-nav a[data-subject="${next}"]`).click();
    // The nav and the viewer's state change in the same render: once the nav shows the new
    // subject, "shown" and "loading" already describe it.
    await page.waitForFunction((label) => document.querySelector('.subject-nav a.on')?.textContent?.trim() === label, next);
    await page.locator('[data-testid="subject-viewer"][data-loading="false"]').waitFor();
    for (const side of ['flair', 't1w']) {
      assert.equal(await page.getByTestId(`viewer-${side}`).evaluate((c) => c.parentElement.getAttribute('data-shown')), 'true', `${side} viewer shows ${next}`);
      assert.equal(await page.getByTestId(`viewer-loading-${side}`).count(), 0);
    }
    assert.equal(await page.getByTestId('viewer-flair').getAttribute('data-e2e-kept'), 'yes');
    assert.equal(await readZ(), 91, 'the new subject opens on its middle prepared slice');
    assert.equal(await page.getByTestId('cursor-readout').getAttribute('data-source'), 'crosshair');
    const [i, j, k] = (await page.getByTestId('readout-vox').textContent()).split(',').map((v) => Number(v.trim()));
    assert.equal(k, 91);
    const [flairVol, t1Vol, oldT1] = await Promise.all([readNifti(volumeFile(next, 'FLAIR')), readNifti(volumeFile(next, 'T1w')), readNifti(volumeFile(previous, 'T1w'))]);
    const [nx, ny] = flairVol.dims;
    const at = (vol) => vol.data[i + nx * (j + ny * k)];
    const near = (a, b, what) => assert.ok(Math.abs(a - b) <= 0.002 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);
    const flairShown = Number(await page.getByTestId('readout-flair').textContent());
    const t1Shown = Number(await page.getByTestId('readout-t1w').textContent());
    near(flairShown, at(flairVol), `${next} FLAIR at ${i},${j},${k}`);
    near(t1Shown, at(t1Vol), `${next} T1w at ${i},${j},${k}`);
    if (Math.abs(at(t1Vol) - at(oldT1)) > 0.01 * Math.max(1, Math.abs(at(t1Vol)))) {
      assert.ok(Math.abs(t1Shown - at(oldT1)) > 0.002 * Math.max(1, Math.abs(at(oldT1))), `the T1w readout is ${next}'s, not ${previous}'s`);
    }
    // Window/level works on the new subject's volumes.
    assert.match(await page.getByTestId('window-flair').textContent(), /W \S+ L \S+/);
    assert.match(await page.getByTestId('window-t1w').textContent(), /W \S+ L \S+/);
    await screenshot(page, 'data-switched');
  });

  it('hands the picked FLAIR slice to the Generate view', async () => {
    const z = await readZ();
    await page.getByTestId('use-as-condition').click();
    await page.waitForFunction(() => location.hash.startsWith('#/generate'));
    const hash = await page.evaluate(() => location.hash);
    const q = new URLSearchParams(hash.slice(hash.indexOf('?') + 1));
    assert.equal(q.get('dataset'), String(datasetId));
    assert.equal(q.get('z'), String(z));
    assert.match(q.get('subject'), /^sub-/);
    const { subjects } = await client.api.datasets.detail({ id: datasetId });
    const flair = subjects.find((s) => s.label === q.get('subject')).volumes.find((v) => v.modality === 'FLAIR');
    assert.equal(q.get('volume'), String(flair.id));
    assert.deepEqual(browser.problems, []);
  });

  it('imports the real open MS folder from the import form, with its grid note', { skip: existsSync(OPEN_MS) ? false : `${OPEN_MS} not present` }, async () => {
    const name = `e2e open-ms ${Date.now().toString(36)}`;
    await openApp(page, serveUrl(), '/data');
    const form = page.getByTestId('import-form');
    await form.getByTestId('import-dir').fill(OPEN_MS);
    await form.getByTestId('import-name').fill(name);
    await form.getByRole('button', { name: 'Import' }).click();
    await page.locator('[data-job-kind="import"][data-job-state="completed"]').waitFor({ timeout: 180_000 });
    const created = (await client.api.datasets.list()).datasets.find((d) => d.name === name);
    assert.ok(created, 'the imported dataset is stored');
    assert.equal(created.subjectCount, 3);
    assert.equal(created.synthetic, false);
    await page.locator(`[data-testid="datasets-table"] tbody tr[data-row-key="${created.id}"]`).click();
    await page.getByTestId('dataset-page').waitFor();
    assert.equal(await page.getByTestId('synthetic-badge').count(), 0);
    assert.match(await page.getByTestId('dataset-warnings').textContent(), /header does not say MNI .* FSL MNI152 1 mm/);
    // The folder's own licence file is recorded as the attribution (importer, folder-attribution.ts) and shown.
    assert.match(created.attribution ?? '', /Lesjak/);
    assert.match(await page.getByTestId('attribution').textContent(), /Lesjak/);
    assert.deepEqual(browser.problems, []);
  });
});

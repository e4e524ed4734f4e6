// The page against a server that stops and comes back: a clear disconnected state instead of
// empty lists, an automatic reconnect when it returns on the same address, and what to do when
// it returns with a new token. Uses its own servers (the shared one must stay up for the others).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { launchBrowser, openApp, screenshot, startServe } from './helpers.mjs';

const TOKEN = 'e2e-reconnect-token-0123456789';

describe('Connection to brainsynth serve', () => {
  let browser;
  let home;
  let server;

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'brainsynth-e2e-reconnect-'));
    server = await startServe({ home, extraArgs: ['--token', TOKEN] });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    await rm(home, { recursive: true, force: true });
  });

  it('shows the disconnected state, then reconnects by itself after a restart on the same address', async () => {
    const { page } = browser;
    const port = new URL(server.url).port;
    await openApp(page, server.url, '/data');
    await page.getByText('No datasets yet').waitFor();

    await server.stop();
    await page.getByTestId('disconnected').waitFor({ timeout: 15_000 });
    assert.equal(await page.getByTestId('connection-state').getAttribute('data-status'), 'disconnected');
    // An empty list while the server is gone would read as data loss.
    assert.equal(await page.getByText('No datasets yet').count(), 1, 'the view under the banner is the one from before');
    await page.locator('[data-nav="experiments"]').click();
    await page.getByTestId('load-error').waitFor({ timeout: 15_000 });
    assert.match(await page.getByTestId('load-error').innerText(), /not connected to brainsynth serve/);
    assert.equal(await page.getByText('No runs yet').count(), 0);
    await screenshot(page, 'disconnected');

    server = await startServe({ home, extraArgs: ['--port', port, '--token', TOKEN] });
    await page.locator('[data-testid="connection-state"][data-status="connected"]').waitFor({ timeout: 30_000 });
    await page.getByText('No runs yet').waitFor({ timeout: 15_000 });
    assert.equal(await page.getByTestId('disconnected').count(), 0);
  });

  it('says to open the new address when the server came back with another token', async () => {
    const { page } = browser;
    const port = new URL(server.url).port;
    await server.stop();
    server = await startServe({ home, extraArgs: ['--port', port] });
    const banner = page.getByTestId('token-refused');
    await banner.waitFor({ timeout: 30_000 });
    assert.match(await banner.innerText(), /Open the new address it printed/);
    await screenshot(page, 'token-refused');
  });
});

/**
 * What the bridge and Electron's app:// serve from disk: a volume only while it is the file that
 * was imported (no symlink swapped in, same content), renderer files only from inside the
 * renderer folder, whatever symlinks the folders contain.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../../src/backend/bridge/server';
import { importDataset } from '../../src/backend/data/datasets';
import { volumeResponse } from '../../src/backend/data/volume-files';
import { resolveStaticPath } from '../../src/backend/bridge/static-files';
import { fromStoredPath } from '../../src/backend/home-paths';
import { tempServices } from '../store/helpers';
import { valid2mmPair, writeSubject } from '../data/helpers';

const SECRET = 'root:$6$not-for-the-renderer:19000:0:99999:7:::\n';

let services: ReturnType<typeof tempServices>;
let bridge: Bridge;
let outside: string;
let volumePath: string;
let volumeUrl: string;
let original: Buffer;

function get(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: bridge.port, path, headers: { Authorization: 'Bearer t' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('latin1') }));
    });
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  services = tempServices();
  const root = services.home.root;
  outside = join(root, 'outside');
  mkdirSync(outside);
  writeFileSync(join(outside, 'shadow'), SECRET);
  const data = join(root, 'data');
  writeSubject(data, 'a', { flair: valid2mmPair().flair, t1w: valid2mmPair().t1w });
  const d = await importDataset(services.store, { name: 'served', dir: data });
  const row = services.store.db
    .prepare("SELECT v.id, v.path FROM volumes v JOIN subjects s ON s.id = v.subject_id WHERE s.dataset_id = ? AND v.modality = 'FLAIR'")
    .get(d.id) as { id: number; path: string };
  volumePath = fromStoredPath(services.home.root, row.path);
  volumeUrl = `/volumes/${row.id}/x.nii.gz`;
  original = readFileSync(volumePath);

  const renderer = join(root, 'renderer');
  mkdirSync(join(renderer, 'assets'), { recursive: true });
  writeFileSync(join(renderer, 'index.html'), '<!doctype html><title>brainsynth</title>');
  writeFileSync(join(renderer, 'assets', 'app.js'), 'console.log(1)');
  symlinkSync(join(outside, 'shadow'), join(renderer, 'assets', 'leak.js'));
  symlinkSync(outside, join(renderer, 'linked'));
  bridge = await startBridge({ services, token: 't', rendererDir: renderer });
}, 60_000);

afterAll(async () => {
  await bridge?.close();
  services?.cleanup();
});

/** Runs `swap`, checks both hosts refuse without leaking, then puts the imported file back. */
async function expectRefused(swap: () => void, why: RegExp, restore?: () => void): Promise<void> {
  swap();
  try {
    const viaBridge = await get(volumeUrl);
    expect(viaBridge.status).toBe(409);
    expect(viaBridge.body).toMatch(why);
    expect(viaBridge.body).not.toContain('not-for-the-renderer');
    const viaApp = await volumeResponse(services.store.db, volumeUrl, {});
    expect(viaApp.status).toBe(409);
    expect(await viaApp.text()).toMatch(why);
  } finally {
    restore?.();
    rmSync(volumePath, { force: true, recursive: true });
    mkdirSync(dirname(volumePath), { recursive: true });
    writeFileSync(volumePath, original);
  }
}

describe('volumes are served only while they are the imported file', () => {
  it('serves the imported bytes', async () => {
    const res = await get(volumeUrl);
    expect(res.status).toBe(200);
    expect(Buffer.from(res.body, 'latin1').equals(original)).toBe(true);
  });

  it('refuses the file swapped for a symlink to a secret', async () => {
    await expectRefused(() => {
      rmSync(volumePath);
      symlinkSync(join(outside, 'shadow'), volumePath);
    }, /symbolic link/);
  });

  it('refuses the file swapped for a symlink to a copy of itself (the real path must stay the same)', async () => {
    await expectRefused(() => {
      writeFileSync(join(outside, 'copy.nii.gz'), original);
      rmSync(volumePath);
      symlinkSync(join(outside, 'copy.nii.gz'), volumePath);
    }, /symbolic link/);
  });

  it('refuses when a parent folder is swapped for a symlink', async () => {
    const anat = dirname(volumePath);
    const moved = `${anat}.moved`;
    await expectRefused(() => {
      renameSync(anat, moved);
      mkdirSync(join(outside, 'anat'));
      writeFileSync(join(outside, 'anat', volumePath.split('/').pop()!), SECRET);
      symlinkSync(join(outside, 'anat'), anat);
    }, /the path now leads to/, () => {
      rmSync(anat);
      renameSync(moved, anat);
    });
  });

  it('refuses content changed in place (same size, other bytes)', async () => {
    await expectRefused(() => {
      const changed = Buffer.from(original);
      changed[changed.length - 9] ^= 0xff;
      writeFileSync(volumePath, changed);
    }, /content changed since import/);
  });

  it('refuses a named pipe put in its place without hanging', { timeout: 15_000 }, async () => {
    await expectRefused(() => {
      rmSync(volumePath);
      execFileSync('mkfifo', [volumePath]);
    }, /no longer a regular file/);
  });

  it('serves again once the imported file is back', async () => {
    const res = await get(volumeUrl);
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(original.length);
  });
});

describe('the static renderer server stays inside its folder', () => {
  it('serves real files in the folder', async () => {
    expect((await get('/assets/app.js')).body).toBe('console.log(1)');
  });

  it.each(['/assets/leak.js', '/linked/shadow', '/linked/../linked/shadow'])('does not follow %s out of the folder', async (path) => {
    const res = await get(path);
    expect(res.status).toBe(404);
    expect(res.body).not.toContain('not-for-the-renderer');
    expect(resolveStaticPath(join(services.home.root, 'renderer'), path)).toBeUndefined();
  });
});

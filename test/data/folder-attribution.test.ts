import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readFolderAttribution } from '../../src/backend/data/folder-attribution';
import { hasShared, sharedPath } from '../helpers/shared';

describe('dataset folder attribution', () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), 'bs-attr-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('takes licence and acknowledgement from a BIDS dataset_description.json', () => {
    const d = tmp();
    writeFileSync(join(d, 'dataset_description.json'), JSON.stringify({ Name: 'My MS study', License: 'CC BY 4.0', HowToAcknowledge: 'Cite Doe 2024.' }));
    writeFileSync(join(d, 'LICENSE.txt'), 'ignored when the description says it');
    expect(readFolderAttribution(d)).toBe('My MS study\nLicence: CC BY 4.0\nCite Doe 2024.');
  });

  it('falls back to a licence file, clipped, and to null when the folder says nothing', () => {
    const d = tmp();
    expect(readFolderAttribution(d)).toBeNull();
    writeFileSync(join(d, 'LICENSE'), `Released under CC BY.\n${'x'.repeat(5000)}`);
    const text = readFolderAttribution(d)!;
    expect(text.startsWith('Released under CC BY.')).toBe(true);
    expect(text.length).toBeLessThanOrEqual(1200);
  });

  it('reads only the opening of a 1 GiB LICENSE.txt (sparse) and skips a pipe named LICENSE', { timeout: 15_000 }, () => {
    const d = tmp();
    execFileSync('mkfifo', [join(d, 'LICENSE')]);
    writeFileSync(join(d, 'LICENSE.txt'), 'Released under CC BY 4.0.\n');
    truncateSync(join(d, 'LICENSE.txt'), 1024 ** 3);
    expect(readFolderAttribution(d)).toBe('Released under CC BY 4.0.');
  });

  it('skips an oversized dataset_description.json and uses the licence file', () => {
    const d = tmp();
    writeFileSync(join(d, 'dataset_description.json'), '{"Name": "big"}');
    truncateSync(join(d, 'dataset_description.json'), 64 * 1024 ** 2);
    writeFileSync(join(d, 'README'), 'See the paper.');
    expect(readFolderAttribution(d)).toBe('See the paper.');
  });

  it.skipIf(!hasShared)('finds the Lesjak et al. 2017 citation in the open MS folder', () => {
    expect(readFolderAttribution(sharedPath('data/open-ms-mni'))).toMatch(/Lesjak[\s\S]*10\.1007\/s12021-017-9348-7/);
  });
});

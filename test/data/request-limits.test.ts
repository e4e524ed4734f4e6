import { describe, expect, it } from 'vitest';
import { channels } from '../../src/shared/contract';
import { datasetNameProblem } from '../../src/shared/dataset-name';
import { fetchOpenMsDataset } from '../../src/backend/data/datasets';
import { tempHome } from './helpers';

describe('dataset requests: one rule for the API and the CLI', () => {
  it.each([
    ['two\nlines', /control character/],
    ['tab\there', /control character/],
    ['x'.repeat(100_000), /too long/],
    ['  ', /needs a name/],
  ])('refuses the name %j in every dataset channel and in the shared check', (name, pattern) => {
    expect(datasetNameProblem(name)).toMatch(pattern);
    for (const request of [
      channels['datasets.import'].request.safeParse({ dir: '/data', name }),
      channels['datasets.phantom'].request.safeParse({ subjects: 1, name }),
      channels['datasets.fetchOpenMs'].request.safeParse({ name }),
    ]) {
      expect(request.success).toBe(false);
      expect(request.error!.issues[0]!.message).toMatch(pattern);
    }
  });

  it('accepts ordinary names, accents included', () => {
    expect(datasetNameProblem('Ljubljana MS (2017) – FLAIR/T1w')).toBeUndefined();
    expect(channels['datasets.import'].request.safeParse({ dir: '/data', name: 'open-ms' }).success).toBe(true);
  });

  it.each(['file:///etc/', 'ftp://example.org/data/', 'javascript:alert(1)', 'data:text/plain,hi'])('fetchOpenMs refuses the base URL %s', (baseUrl) => {
    expect(channels['datasets.fetchOpenMs'].request.safeParse({ baseUrl }).success).toBe(false);
  });

  it('fetchOpenMs accepts http and https base URLs', () => {
    for (const baseUrl of ['https://raw.githubusercontent.com/x/y/main/MNI', 'http://127.0.0.1:8123/MNI']) {
      expect(channels['datasets.fetchOpenMs'].request.safeParse({ baseUrl }).success, baseUrl).toBe(true);
    }
  });
});

describe('fetchOpenMs in the backend (what the CLI calls)', () => {
  it('refuses a file:// base URL before downloading anything', async () => {
    const env = tempHome();
    try {
      await expect(fetchOpenMsDataset(env.store, env.home, { baseUrl: 'file:///etc', subjects: ['patient07'] })).rejects.toThrow(
        '--base-url file:///etc: only http:// and https:// addresses are fetched (got file:)',
      );
    } finally {
      env.cleanup();
    }
  });
});

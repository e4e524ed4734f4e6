import { existsSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataJob } from '../../src/shared/contract';
import { DataJobs } from '../../src/backend/data/data-jobs';
import { tempServices } from '../store/helpers';

/**
 * A dataset job run in the caller's thread (CLI commands, tests) has no worker to terminate: it
 * stops at its next progress report once cancelled, and leaves no dataset row or folder behind.
 */
let services: ReturnType<typeof tempServices>;
let jobs: DataJobs;

beforeAll(() => {
  services = tempServices();
  jobs = new DataJobs(services.store, services.home, services.events, { inProcess: true });
});

afterAll(() => {
  jobs?.close();
  services?.cleanup();
});

describe('in-process dataset job cancel', () => {
  it('a phantom job cancelled at its first subject ends cancelled, writing nothing', async () => {
    const seen: DataJob[] = [];
    let jobId = '';
    // Cancelled from inside its own first progress report: the job has more subjects to go, so
    // the stop happens at a known point, however fast the machine is.
    const off = services.events.on('data.job', (j) => {
      seen.push(j);
      if (j.jobId === jobId && j.state === 'running' && j.done >= 1 && !seen.some((s) => s.state === 'cancelled')) jobs.cancel(jobId);
    });
    jobId = jobs.submit({ kind: 'phantom', subjects: 4, name: 'to be cancelled' }).jobId;
    const end = await jobs.wait(jobId);
    off();
    expect(end.state).toBe('cancelled');
    expect(end.error).toBe('cancelled');
    expect(seen.some((j) => j.state === 'running' && j.done >= 1)).toBe(true);
    expect(services.datasets.list().map((d) => d.name)).not.toContain('to be cancelled');
    const leftovers = existsSync(services.home.datasetsDir) ? readdirSync(services.home.datasetsDir) : [];
    expect(leftovers).toEqual([]);

    // The queue goes on: the next job runs to the end.
    const next = await jobs.wait(jobs.submit({ kind: 'phantom', subjects: 1, name: 'after the cancel' }).jobId);
    expect(next.state, next.error ?? '').toBe('completed');
    expect(services.datasets.list().map((d) => d.name)).toContain('after the cancel');
  }, 120_000);
});

import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventMap, Job } from '../../src/shared/contract';
import { EventHub } from '../../src/backend/events';
import { JobHost, type JobHostOptions } from '../../src/backend/jobs/host';
import type { JobPayload } from '../../src/backend/jobs/run-job';
import { jobKindInfo, jobKinds } from '../../src/backend/jobs/kinds';

/**
 * The job host with stand-in workers (no engine): lanes, cancel, release, stall timeout, ETA and
 * the 'job.updated' event. Each stand-in reports one progress step, then ends only when the test
 * releases it (control slot 1) or cancels it (slot 0), so nothing here depends on timing.
 */
const GATED = `
const { parentPort, workerData } = require('node:worker_threads');
const c = new Int32Array(workerData.control);
parentPort.postMessage({ type: 'progress', progress: { phase: 'working', done: 1, total: 4 } });
const t = setInterval(() => {
  if (Atomics.load(c, 0)) { clearInterval(t); parentPort.postMessage({ type: 'done', outcome: { status: 'cancelled', result: null, message: 'stopped at the flag' } }); }
  else if (Atomics.load(c, 1)) { clearInterval(t); parentPort.postMessage({ type: 'done', outcome: { status: 'completed', result: 42 } }); }
}, 10);
`;
/** Reports progress but never looks at its cancel flag nor ends: stuck where it never polls. */
const STUBBORN = `
const { parentPort } = require('node:worker_threads');
setInterval(() => parentPort.postMessage({ type: 'progress', progress: { phase: 'stuck', done: 1, total: 4 } }), 10);
`;
/** Sends nothing and never ends: only the stall timeout can end it. */
const SILENT = `setInterval(() => {}, 1000);`;

const hosts: JobHost[] = [];
afterEach(async () => {
  for (const h of hosts.splice(0)) await h.close();
});

function makeHost(code: string, opts: JobHostOptions = {}): { host: JobHost; updates: Job[] } {
  const events = new EventHub<EventMap>();
  const updates: Job[] = [];
  events.on('job.updated', (j) => updates.push(j));
  const host = new JobHost(events, { createWorker: (input) => new Worker(code, { eval: true, workerData: input }), pollMs: 20, ...opts });
  hosts.push(host);
  return { host, updates };
}

const payload = (kind: 'generate' | 'import'): JobPayload =>
  kind === 'import' ? { kind, input: { spec: { kind: 'import', dir: '/nowhere', name: 'x' }, dbPath: '', homeRoot: '' } } : ({ kind, spec: {} } as unknown as JobPayload);

/** Resolves when the job reaches `state`; fails with what it saw if it ends otherwise. */
function reach(host: JobHost, jobId: string, state: Job['state']): Promise<Job> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const j = host.get(jobId);
      if (j.state === state) return resolve(j);
      if (['completed', 'failed', 'cancelled'].includes(j.state)) return reject(new Error(`job ${jobId} ended '${j.state}' (${j.error}) while waiting for '${state}'`));
      setImmediate(check);
    };
    check();
  });
}

describe('job host', () => {
  it('runs compute jobs one at a time and io jobs beside them', async () => {
    const { host, updates } = makeHost(GATED);
    const a = host.submit({ payload: payload('generate'), label: 'A' });
    const b = host.submit({ payload: payload('generate'), label: 'B' });
    const c = host.submit({ payload: payload('import'), label: 'C' });
    expect(host.get(a.jobId).state).toBe('running');
    expect(host.get(b.jobId).state).toBe('queued');
    expect(host.get(c.jobId).state).toBe('running');
    host.release(a.jobId);
    expect((await host.wait(a.jobId)).state).toBe('completed');
    await reach(host, b.jobId, 'running');
    host.release(b.jobId);
    host.release(c.jobId);
    expect((await host.wait(b.jobId)).state).toBe('completed');
    expect((await host.wait(c.jobId)).state).toBe('completed');
    const states = updates.filter((u) => u.jobId === b.jobId).map((u) => u.state);
    expect(states[0]).toBe('queued');
    expect(states).toContain('running');
    expect(states.at(-1)).toBe('completed');
  });

  it('reports progress with an ETA, and hands the result to onDone', async () => {
    const { host, updates } = makeHost(GATED);
    let result: unknown = null;
    const a = host.submit({ payload: payload('generate'), label: 'A', onDone: (o) => void (result = o.result) });
    while (!updates.some((u) => u.jobId === a.jobId && u.done === 1)) await new Promise((r) => setImmediate(r));
    const p = updates.find((u) => u.jobId === a.jobId && u.done === 1)!;
    expect(p).toMatchObject({ phase: 'working', total: 4, lane: 'compute', kind: 'generate' });
    expect(p.etaSeconds).not.toBeNull();
    expect(p.etaSeconds!).toBeGreaterThanOrEqual(0);
    host.release(a.jobId);
    const done = await host.wait(a.jobId);
    expect(done).toMatchObject({ state: 'completed', etaSeconds: 0, error: null });
    expect(result).toBe(42);
  });

  it('cancels a queued job at once and a running one through its flag', async () => {
    const { host } = makeHost(GATED);
    const a = host.submit({ payload: payload('generate'), label: 'A' });
    const b = host.submit({ payload: payload('generate'), label: 'B' });
    host.cancel(b.jobId);
    expect(host.get(b.jobId)).toMatchObject({ state: 'cancelled', error: 'cancelled before it started' });
    host.cancel(a.jobId);
    expect(await host.wait(a.jobId)).toMatchObject({ state: 'cancelled', error: 'stopped at the flag' });
  });

  it('honours a cross-process cancel request for a run-backed job', async () => {
    let requested = false;
    const { host } = makeHost(GATED, { cancelRequested: (runId) => runId === 7 && requested });
    const a = host.submit({ payload: payload('generate'), label: 'A', runId: 7 });
    requested = true;
    expect(await host.wait(a.jobId)).toMatchObject({ state: 'cancelled' });
  });

  it('fails a job that sends nothing for its stall time, naming the limit', async () => {
    const { host } = makeHost(SILENT, { stallAfterMs: 300 });
    const a = host.submit({ payload: payload('generate'), label: 'A' });
    const b = host.submit({ payload: payload('generate'), label: 'B' });
    const failed = await host.wait(a.jobId);
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatch(/^the sampling job sent no progress for 0\.3 s and was stopped \(limit for 'generate' jobs\)$/);
    // The lane is free again: the next job starts.
    expect(host.get(b.jobId).state).toBe('running');
  });

  it('every job kind can be cancelled, even one stuck where it never polls, and has a stall timeout', async () => {
    expect(jobKinds()).toEqual(['import', 'phantom', 'prepare', 'fetch', 'train', 'generate', 'translate', 'evaluate', 'sample', 'estimate']);
    for (const kind of jobKinds()) {
      const info = jobKindInfo(kind);
      expect(info.stallAfterMs, kind).toBeGreaterThan(0);
      expect(Number.isFinite(info.stallAfterMs), kind).toBe(true);
      const anyPayload = { kind, spec: {} } as unknown as JobPayload;

      const { host } = makeHost(STUBBORN, { cancelGraceMs: 100 });
      const job = host.submit({ payload: anyPayload, label: kind });
      await reach(host, job.jobId, 'running');
      host.cancel(job.jobId);
      const cancelled = await host.wait(job.jobId);
      expect(cancelled.state, kind).toBe('cancelled');
      if (info.cancelBy === 'flag') expect(cancelled.error, kind).toMatch(/did not stop at a safe point within 0\.1 s, so it was stopped$/);

      const silent = makeHost(SILENT, { stallAfterMs: 100 }).host;
      const stalled = await silent.wait(silent.submit({ payload: anyPayload, label: kind }).jobId);
      expect(stalled.state, kind).toBe('failed');
      expect(stalled.error, kind).toMatch(new RegExp(`sent no progress for 0\\.1 s and was stopped \\(limit for '${kind}' jobs\\)$`));
    }
  });

  it('refuses an unknown kind with the known ones', () => {
    const { host } = makeHost(GATED);
    expect(() => host.submit({ payload: { kind: 'paint' } as unknown as JobPayload, label: 'x' })).toThrow(/unknown job kind 'paint' \(known: import, phantom, prepare, fetch, train, generate, translate, evaluate, sample, estimate\)/);
  });
});

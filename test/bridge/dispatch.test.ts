import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { channels, createApi, events, ApiError, type Transport } from '../../src/shared/contract';
import { createDispatch, createHandlers, type HandlerTable } from '../../src/backend/api/handlers';
import { tempServices } from '../store/helpers';

let s: ReturnType<typeof tempServices>;
beforeEach(() => {
  s = tempServices();
});
afterEach(() => s.cleanup());

/** What the preload does with ipcRenderer, done in-process: createApi over dispatch. */
function inProcessApi(handlers: HandlerTable = createHandlers({ services: s, host: 'test' })) {
  const dispatch = createDispatch(handlers, () => undefined);
  const transport: Transport = {
    invoke: (channel, payload) => dispatch(channel, payload),
    subscribe: (event, listener) => s.events.on(event, listener as never),
  };
  return createApi(transport);
}

describe('IPC contract', () => {
  it('names every channel group.method and gives each one a client method and a handler', () => {
    const api = inProcessApi() as unknown as Record<string, Record<string, unknown>>;
    const handlers = createHandlers({ services: s, host: 'test' });
    for (const name of Object.keys(channels)) {
      expect(name).toMatch(/^[a-z]+\.[a-zA-Z]+$/);
      const [group, method] = name.split('.') as [string, string];
      expect(typeof api[group]![method], name).toBe('function');
      expect(typeof (handlers as Record<string, unknown>)[name], name).toBe('function');
    }
    expect(Object.keys(events).length).toBeGreaterThan(0);
  });

  it('round-trips a run through the same api object the renderer uses', async () => {
    const api = inProcessApi();
    const run = await api.runs.create({ stage: 'controlnet', seed: 7 });
    expect(await api.runs.get({ id: run.id })).toEqual(run);
    const running = await api.runs.update({ id: run.id, status: 'running' });
    expect(running.status).toBe('running');
    const missing = await api.runs.get({ id: 12345 }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(ApiError);
    expect((missing as ApiError).code).toBe('not_found');
    expect((missing as ApiError).message).toBe('runs.get: run 12345 does not exist');
  });

  it('rejects unknown channels and malformed payloads before any handler runs', async () => {
    let called = 0;
    const handlers = createHandlers({ services: s, host: 'test' });
    const spy = { ...handlers, 'runs.create': (req: never) => (called++, handlers['runs.create'](req)) } as HandlerTable;
    const dispatch = createDispatch(spy, () => undefined);
    const unknown = await dispatch('runs.destroy', {});
    expect(unknown).toMatchObject({ ok: false, error: { code: 'unknown_channel' } });
    const notString = await dispatch(42, {});
    expect(notString).toMatchObject({ ok: false, error: { code: 'unknown_channel' } });
    for (const payload of [null, 'ldm', [], { stage: 'ldm', seed: 1.5 }, { stage: 'ldm', config: 'x' }, { stage: 'ldm', parents: [{ runId: 0, role: 'x' }] }]) {
      const res = await dispatch('runs.create', payload);
      expect(res.ok, JSON.stringify(payload)).toBe(false);
      if (!res.ok) expect(res.error.message).toMatch(/^runs\.create: invalid request: /);
    }
    expect(called).toBe(0);
    expect((s.store.db.prepare('SELECT count(*) AS n FROM runs').get() as { n: number }).n).toBe(0);
  });

  it('reports a handler that breaks the response contract instead of passing it on', async () => {
    const broken = { ...createHandlers({ services: s, host: 'test' }), 'app.info': () => ({ name: 'x' }) } as unknown as HandlerTable;
    const logged: string[] = [];
    const res = await createDispatch(broken, (m) => logged.push(m))('app.info', {});
    expect(res).toMatchObject({ ok: false, error: { code: 'invalid_response', channel: 'app.info' } });
    expect(logged[0]).toMatch(/app\.info returned a response that breaks the contract/);
  });

  it('turns unexpected exceptions into failed envelopes', async () => {
    const throwing = { ...createHandlers({ services: s, host: 'test' }), 'experiments.list': () => { throw new Error('disk on fire'); } } as unknown as HandlerTable;
    const res = await createDispatch(throwing, () => undefined)('experiments.list', {});
    expect(res).toEqual({ ok: false, error: { code: 'failed', channel: 'experiments.list', message: 'experiments.list: disk on fire' } });
  });
});

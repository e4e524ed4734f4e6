import { afterAll, describe, expect, it } from 'vitest';
import { openBackend } from '../../src/backend';
import { watchExternalRunChanges } from '../../src/backend/runs/external-changes';
import type { EventMap } from '../../src/shared/contract';
import { tempHome } from './helpers';

const home = tempHome();
afterAll(() => home.cleanup());

/** Resolves with the first event of that name that matches. */
function next<E extends keyof EventMap>(services: ReturnType<typeof openBackend>, event: E, match: (p: EventMap[E]) => boolean): Promise<EventMap[E]> {
  return new Promise((resolve) => {
    const off = services.events.on(event, (p) => {
      if (match(p)) {
        off();
        resolve(p);
      }
    });
  });
}

describe('runs written by another process', () => {
  it('reach this process as run.updated and metrics.appended events', async () => {
    const app = openBackend({ home: home.dir });
    const stop = watchExternalRunChanges(app, 20);
    // A second connection to the same home stands for `brainsynth train` in a terminal.
    const cli = openBackend({ home: home.dir });
    try {
      const created = next(app, 'run.updated', (p) => p.run.name === 'from the terminal');
      const run = cli.runs.create({ stage: 'autoencoder', name: 'from the terminal' });
      expect((await created).run.id).toBe(run.id);

      const running = next(app, 'run.updated', (p) => p.run.id === run.id && p.run.status === 'running');
      cli.runs.update({ id: run.id, status: 'running' });
      await running;

      const appended = next(app, 'metrics.appended', (p) => p.runId === run.id);
      cli.metrics.append(run.id, [
        { step: 0, name: 'loss', value: 1 },
        { step: 1, name: 'loss', value: 0.5 },
      ]);
      expect(await appended).toMatchObject({ runId: run.id, count: 2, names: ['loss'], lastStep: 1 });
    } finally {
      stop();
      cli.close();
      app.close();
    }
  });
});

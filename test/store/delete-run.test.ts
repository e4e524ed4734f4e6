import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openBackend } from '../../src/backend';
import { createDispatch, createHandlers } from '../../src/backend/api/handlers';
import { tempHome } from './helpers';

const home = tempHome();
afterAll(() => home.cleanup());

describe('runs.delete', () => {
  it('removes a run with its rows and folder, and refuses a running run or a parent', async () => {
    const s = openBackend({ home: home.dir });
    const dispatch = createDispatch(createHandlers({ services: s, host: 'bridge' }), () => undefined);
    try {
      const ae = s.runs.create({ stage: 'autoencoder', name: 'parent' });
      const ldm = s.runs.create({ stage: 'ldm', parents: [{ runId: ae.id, role: 'autoencoder' }] });
      s.metrics.append(ldm.id, [{ step: 0, name: 'loss', value: 1 }]);
      mkdirSync(join(s.home.runDir(ldm.id), 'images'), { recursive: true });
      writeFileSync(join(s.home.runDir(ldm.id), 'images', 'a.png'), 'x');
      s.artefacts.add({ runId: ldm.id, kind: 'image', path: join(s.home.runDir(ldm.id), 'images', 'a.png') });

      const parent = await dispatch('runs.delete', { id: ae.id });
      expect(parent).toMatchObject({ ok: false, error: { code: 'conflict' } });
      expect(parent.ok ? '' : parent.error.message).toContain(`parent of run #${ldm.id}`);

      s.runs.update({ id: ldm.id, status: 'running' });
      const running = await dispatch('runs.delete', { id: ldm.id });
      expect(running.ok ? '' : running.error.message).toContain('cancel it before deleting it');
      expect(existsSync(s.home.runDir(ldm.id))).toBe(true);

      s.runs.update({ id: ldm.id, status: 'cancelled' });
      expect(await dispatch('runs.delete', { id: ldm.id })).toEqual({ ok: true, data: { id: ldm.id, removedFolder: true } });
      expect(existsSync(s.home.runDir(ldm.id))).toBe(false);
      expect(readdirSync(join(s.home.runDir(ldm.id), '..')).filter((n) => n.startsWith('.deleted-'))).toEqual([]);
      expect(s.artefacts.list({ runId: ldm.id })).toEqual([]);
      expect((await dispatch('runs.get', { id: ldm.id })).ok).toBe(false);

      // With its child gone, the parent can go (it never had a folder).
      expect(await dispatch('runs.delete', { id: ae.id })).toEqual({ ok: true, data: { id: ae.id, removedFolder: false } });
    } finally {
      s.close();
    }
  });
});

/**
 * A copied home resumes a stopped run from its own checkpoint: with the original home deleted,
 * the copy's resume continues at the copied step and records its checkpoints inside the copy.
 */
import { cpSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openBackend, type Services } from '../../src/backend';
import type { TrainingJobs } from '../../src/backend/training/training-jobs';
import { checkpointDir, readCheckpointMeta } from '../../src/ml/pipeline/checkpoint';
import { jobsWith, makeHome, TINY } from './helpers';

const cleanup: string[] = [];
afterAll(() => {
  for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
});

function trainSteps(services: Services, runId: number): number[] {
  return (services.store.db.prepare("SELECT step FROM metrics WHERE run_id = ? AND split = 'train' AND name = 'loss' ORDER BY step").all(runId) as { step: number }[]).map((r) => r.step);
}

describe('a copied home', () => {
  it('resumes a cancelled run from its own checkpoint, the original being gone', { timeout: 300_000 }, async () => {
    const { home, services, datasetId } = makeHome();
    cleanup.push(home);
    let hold: number | undefined = 2;
    let jobs: TrainingJobs = jobsWith(services, { pollMs: 100, flushMs: 200, holdAtStep: () => hold });
    const overrides = [...TINY.common, ...TINY.autoencoder, 'loop.maxStepsPerEpoch=3', 'loop.checkpointEvery=100'];
    const run = await jobs.start({ stage: 'autoencoder', datasetId, preset: 'desktop', backend: 'wasm', epochs: 1, overrides });
    // Held after step 2, so the cancel lands there however fast the machine is.
    expect(await jobs.held(run.id)).toBe(2);
    jobs.cancel(run.id);
    expect((await jobs.waitFor(run.id)).run.status).toBe('cancelled');
    expect(readCheckpointMeta(checkpointDir(services.home.runDir(run.id), 'last')!).step).toBe(2);
    jobs.closeSync();
    services.close();

    const copy = `${home}-copy`;
    cleanup.push(copy);
    cpSync(home, copy, { recursive: true });
    rmSync(home, { recursive: true });

    const copied = openBackend({ home: copy });
    try {
      hold = undefined;
      jobs = jobsWith(copied, { pollMs: 100, flushMs: 200, holdAtStep: () => hold });
      expect(copied.checkpoints.latest(run.id)!.path.startsWith(join(copy, 'runs', String(run.id)))).toBe(true);
      jobs.resume(run.id);
      const { run: done } = await jobs.waitFor(run.id);
      expect(done.error).toBeNull();
      expect(done.status).toBe('completed');
      expect(trainSteps(copied, run.id)).toEqual([1, 2, 3]);
      const last = copied.checkpoints.latest(run.id)!;
      expect(last.step).toBe(3);
      expect(last.path.startsWith(join(copy, 'runs', String(run.id)))).toBe(true);
      expect(existsSync(last.path)).toBe(true);
      const stored = copied.store.db.prepare("SELECT path FROM checkpoints WHERE run_id = ? AND kind = 'last'").get(run.id) as { path: string };
      expect(stored.path.startsWith(`runs/${run.id}/`)).toBe(true);
      expect(existsSync(home)).toBe(false);
      jobs.closeSync();
    } finally {
      copied.close();
    }
  });
});

import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openBackend } from '../../src/backend';
import { openStore } from '../../src/backend/store';
import { MIGRATIONS } from '../../src/backend/store/migrations';
import { downsampleMinMax } from '../../src/backend/runs/downsample';
import { metricGoal } from '../../src/shared/metric-goal';
import { tempHome, tempServices } from './helpers';

let s: ReturnType<typeof tempServices>;
beforeEach(() => {
  s = tempServices();
});
afterEach(() => s.cleanup());

/** The summary recomputed the slow, obvious way from the raw rows. */
function bruteForce(runId: number) {
  const rows = s.store.db.prepare('SELECT name, split, step, value FROM metrics WHERE run_id = ? ORDER BY name, split, step').all(runId) as {
    name: string;
    split: string;
    step: number;
    value: number;
  }[];
  const by = new Map<string, typeof rows>();
  for (const r of rows) by.set(`${r.name}/${r.split}`, [...(by.get(`${r.name}/${r.split}`) ?? []), r]);
  return [...by.values()].map((series) => {
    const goal = metricGoal(series[0]!.name);
    const best = series.reduce((b, r) => ((goal === 'min' ? r.value < b.value : r.value > b.value) ? r : b));
    const last = series[series.length - 1]!;
    return { name: last.name, split: last.split, goal, count: series.length, last: { step: last.step, value: last.value }, best: { step: best.step, value: best.value } };
  });
}

function lcg(seed: number) {
  let x = seed >>> 0;
  return () => ((x = (Math.imul(x, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

describe('metric summaries', () => {
  it('stay exact through appends, re-logged steps, unordered batches and deleteAfter', () => {
    const run = s.runs.create({ stage: 'autoencoder' });
    const rand = lcg(7);
    let step = 0;
    for (let round = 0; round < 40; round++) {
      const kind = rand();
      if (kind < 0.6) {
        const pts = [];
        for (let i = 0; i < 20; i++, step++) {
          pts.push({ step, name: 'loss', value: rand() });
          if (i % 5 === 0) pts.push({ step, name: 'psnr', value: 20 + rand() * 10, split: 'validation' });
        }
        s.metrics.append(run.id, pts);
      } else if (kind < 0.8 && step > 0) {
        // Re-log earlier steps in shuffled order with new values (overwrites).
        const pts = Array.from({ length: 10 }, () => ({ step: Math.floor(rand() * step), name: 'loss', value: rand() * 2 }));
        s.metrics.append(run.id, pts);
      } else if (step > 10) {
        const cut = Math.floor(step * (0.5 + rand() / 2));
        s.metrics.deleteAfter(run.id, cut);
        step = cut + 1;
      }
      expect(s.metrics.summary(run.id), `round ${round}`).toEqual(bruteForce(run.id));
    }
  });

  it('are backfilled when an older database is upgraded', () => {
    const home = tempHome();
    try {
      const path = join(home.dir, 'brainsynth.db');
      const old = openStore(path, { migrations: MIGRATIONS.slice(0, 2) });
      old.db.prepare("INSERT INTO runs (stage) VALUES ('ldm')").run();
      const ins = old.db.prepare("INSERT INTO metrics (run_id, step, split, name, value, wall_time) VALUES (1, ?, 'train', 'loss', ?, 0)");
      [5, 3, 4, 9].forEach((v, i) => ins.run(i, v));
      old.close();
      const services = openBackend({ home: home.dir });
      expect(services.metrics.summary(1)).toEqual([{ name: 'loss', split: 'train', goal: 'min', count: 4, last: { step: 3, value: 9 }, best: { step: 1, value: 3 } }]);
      services.close();
    } finally {
      home.cleanup();
    }
  });
});

describe('downsampling in SQLite', () => {
  it('matches the reference min/max bucketing', () => {
    const run = s.runs.create({ stage: 'ldm' });
    const rand = lcg(3);
    const steps: number[] = [];
    const values: number[] = [];
    for (let i = 0, step = 0; i < 5000; i++, step += 1 + Math.floor(rand() * 3)) {
      steps.push(step);
      values.push(rand());
    }
    s.metrics.append(run.id, steps.map((step, i) => ({ step, name: 'loss', value: values[i]! })));
    for (const maxPoints of [3, 10, 101, 1000]) {
      const [series] = s.metrics.query(run.id, { maxPoints });
      expect({ steps: series!.steps, values: series!.values }, `maxPoints ${maxPoints}`).toEqual(downsampleMinMax(steps, values, maxPoints));
      expect(series!.steps.length).toBeLessThanOrEqual(maxPoints);
    }
  });
});

/**
 * Data pipeline timings per subject: import (read + check + hash every volume, one transaction)
 * and prepare (read, reorient, slice, normalise, write the cache) for the real open MS MNI data
 * (../shared, 3 subjects) and for the synthetic phantom (generation + NIfTI writing included),
 * plus how fast trainers read the prepared cache. Wall and CPU seconds are both reported: on a
 * shared, loaded machine the CPU figure is the fairer one.
 *
 * Run: `npm run bench -- data` (writes bench/results/data.json), or `npx tsx bench/data.ts`.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openBackend } from '../src/backend';
import { createPhantomDataset, importDataset, prepareDataset } from '../src/backend/data/datasets';
import { loadPreparedSlices } from '../src/ml/data/prepare';

const HERE = fileURLToPath(import.meta.url);
const SHARED = resolve(process.env.BRAINSYNTH_SHARED ?? resolve(dirname(HERE), '../../shared'));
const OPEN_MS = join(SHARED, 'data', 'open-ms-mni');
const PHANTOM_SUBJECTS = 3;

interface Result {
  case: string;
  value: number;
  unit: string;
  detail?: Record<string, unknown>;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ out: T; wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const out = await fn();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { out, wall, cpu: (c.user + c.system) / 1e6 };
}

function perSubject(label: string, subjects: number, t: { wall: number; cpu: number }, detail: Record<string, unknown> = {}): Result[] {
  return [
    { case: `${label} (wall)`, value: t.wall / subjects, unit: 's/subject', detail: { subjects, seconds: t.wall, ...detail } },
    { case: `${label} (CPU)`, value: t.cpu / subjects, unit: 's/subject', detail: { subjects, cpuSeconds: t.cpu, ...detail } },
  ];
}

export default async function dataBench() {
  const dir = mkdtempSync(join(tmpdir(), 'brainsynth-bench-data-'));
  const s = openBackend({ home: dir });
  const results: Result[] = [];
  try {
    if (existsSync(OPEN_MS)) {
      const imp = await timed(() => importDataset(s.store, { name: 'open-ms', dir: OPEN_MS }));
      const n = imp.out.subjectCount;
      results.push(...perSubject('open-ms import', n, imp, { volumes: imp.out.volumeCount }));
      for (const [slices, normalisation] of [
        ['reference', 'minmax'],
        ['brain-band', 'minmax'],
        ['brain-band', 'percentile'],
      ] as const) {
        const p = await timed(() => prepareDataset(s.store, s.home, 'open-ms', { slices, normalisation }));
        const count = p.out.index.records.length;
        results.push(...perSubject(`open-ms prepare ${slices}/${normalisation}`, n, p, { slicePairs: count }));
      }
      const cache = s.home.datasetDir(imp.out.id);
      for (const size of [undefined, [80, 112] as [number, number]]) {
        const l = await timed(async () => loadPreparedSlices(cache, size ? { size } : {}));
        const label = `open-ms load cache ${size ? size.join('x') : '160x224'}`;
        results.push(
          { case: `${label} (wall)`, value: l.out.count / l.wall, unit: 'slice pairs/s', detail: { pairs: l.out.count, seconds: l.wall } },
          { case: `${label} (CPU)`, value: l.out.count / l.cpu, unit: 'slice pairs/s', detail: { pairs: l.out.count, cpuSeconds: l.cpu } },
        );
      }
    } else {
      process.stderr.write(`bench data: ${OPEN_MS} not found; open-ms cases skipped\n`);
    }
    const ph = await timed(() => createPhantomDataset(s.store, s.home, { name: 'phantom', subjects: PHANTOM_SUBJECTS, seed: 0 }));
    results.push(...perSubject('phantom generate+write+import', PHANTOM_SUBJECTS, ph));
    const pp = await timed(() => prepareDataset(s.store, s.home, 'phantom', { slices: 'brain-band' }));
    results.push(...perSubject('phantom prepare brain-band/minmax', PHANTOM_SUBJECTS, pp, { slicePairs: pp.out.index.records.length }));
  } finally {
    s.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    description: 'Data pipeline: import + prepare time per subject (open MS MNI from ../shared, synthetic phantom), cache read speed',
    results,
  };
}

// Standalone: `npx tsx bench/data.ts` prints the table (the bench runner writes results/data.json).
if (process.argv[1] && resolve(process.argv[1]) === HERE) {
  const { results } = await dataBench();
  for (const r of results) process.stdout.write(`${r.case.padEnd(48)} ${r.value.toPrecision(4).padStart(10)} ${r.unit}\n`);
}

import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fromStoredPath } from '../../src/backend/home-paths';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkpointDir, readCheckpointMeta } from '../../src/ml/pipeline/checkpoint';
import { cli, query, until } from './cli-child';
import { makeHome, TINY } from './helpers';

/**
 * kill -9 at the checkpoint boundary, replayed deterministically: the CLI's job is held at its
 * final checkpoint once the host has stored everything logged up to it and before the
 * checkpoint becomes the resume point, then the process is killed. The resumed run must end
 * with nothing lost (the same metrics, bit for bit, as an uninterrupted run) and the pointer
 * files, the store's checkpoint rows and the step folders must agree.
 */
let home: string;
let datasetId: number;
let dbPath: string;

beforeAll(() => {
  const h = makeHome({ train: 12, validation: 4 });
  home = h.home;
  datasetId = h.datasetId;
  dbPath = h.services.home.dbPath;
  h.services.close();
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

// Two epochs of three steps; checkpoints at steps 2, 3 (epoch end), 4 and 6 (the final one).
const trainArgs = () => [
  'train',
  ...['--stage', 'autoencoder', '--dataset', String(datasetId), '--epochs', '2', '--seed', '5', '--backend', 'wasm'],
  ...[...TINY.common, ...TINY.autoencoder, 'loop.maxStepsPerEpoch=3', 'loop.checkpointEvery=2'].flatMap((s) => ['--set', s]),
];

type Metric = { step: number; split: string; name: string; value: number };
const metrics = (runId: number) => query<Metric>(dbPath, 'SELECT step, split, name, value FROM metrics WHERE run_id = ? ORDER BY split, name, step', runId);
const rows = (runId: number) => query<{ kind: string; step: number; path: string }>(dbPath, 'SELECT kind, step, path FROM checkpoints WHERE run_id = ? ORDER BY kind', runId);
const pointer = (runDir: string, kind: string) => JSON.parse(readFileSync(join(runDir, 'checkpoints', `${kind}.json`), 'utf8')) as { dir: string; step: number };
const stepFolders = (runDir: string) => readdirSync(join(runDir, 'checkpoints')).filter((e) => e.startsWith('step-')).sort();

describe('kill -9 at the checkpoint boundary', { timeout: 600_000 }, () => {
  it('resumes with nothing lost: metrics, best/last pointers and store rows agree', async () => {
    const runDir = join(home, 'runs', '1');
    const train = cli(home, trainArgs(), { BRAINSYNTH_TEST_HOLD_AT_CHECKPOINT: '6' });
    // The checkpoint row commits with the metrics, before the job is told to promote it.
    await until('the final checkpoint of run 1 to be stored', train, () => {
      const last = rows(1).find((r) => r.kind === 'last');
      return { value: last?.step === 6 ? true : undefined, saw: rows(1) };
    });
    train.kill('SIGKILL');
    await train.done;

    // What the crash left: every metric up to step 6 stored, the resume point still step 4.
    const validationSteps = (runId: number) => [...new Set(metrics(runId).filter((m) => m.split === 'validation').map((m) => m.step))];
    expect(validationSteps(1)).toContain(6);
    expect(pointer(runDir, 'last').step).toBe(4);
    expect(existsSync(join(runDir, 'checkpoints', 'step-00000006'))).toBe(true);

    const resumed = cli(home, ['resume', '1']);
    expect(await resumed.done, resumed.err).toBe(0);
    expect(resumed.out).toMatch(/^run 1 autoencoder completed; /m);

    // An uninterrupted run with the same seed: the resumed run matches it bit for bit.
    const straight = cli(home, trainArgs());
    expect(await straight.done, straight.err).toBe(0);
    const strip = (ms: Metric[]) => ms.map(({ step, split, name, value }) => ({ step, split, name, value }));
    expect(strip(metrics(1))).toEqual(strip(metrics(2)));
    expect(metrics(1).filter((m) => m.split === 'train' && m.name === 'loss').map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(validationSteps(1)).toEqual(validationSteps(2));

    for (const [runId, dir] of [[1, runDir], [2, join(home, 'runs', '2')]] as const) {
      const last = pointer(dir, 'last');
      const best = pointer(dir, 'best');
      expect(last.step).toBe(6);
      // Only what a pointer references is left on disk.
      expect(stepFolders(dir)).toEqual([...new Set([best.dir, last.dir])].sort());
      // The store's rows are the pointer files.
      expect(rows(runId).map((r) => ({ kind: r.kind, step: r.step }))).toEqual([
        { kind: 'best', step: best.step },
        { kind: 'last', step: last.step },
      ]);
      // Paths inside the home are stored relative to it (a moved or copied home keeps working).
      expect(fromStoredPath(home, rows(runId).find((r) => r.kind === 'best')!.path)).toBe(join(checkpointDir(dir, 'best')!, 'model.safetensors'));
      // "best" is the checkpoint whose validation loss the newest meta records as the best.
      const lastMeta = readCheckpointMeta(checkpointDir(dir, 'last')!);
      expect(readCheckpointMeta(checkpointDir(dir, 'best')!).lastValLoss).toBe(lastMeta.bestValLoss);
    }
    expect(pointer(runDir, 'best')).toEqual(pointer(join(home, 'runs', '2'), 'best'));
  });
});

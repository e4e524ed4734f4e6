import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkpointDir,
  checkpointsDir,
  promoteCheckpoint,
  readCheckpointMeta,
  repairCheckpoints,
  writeCheckpoint,
  type CheckpointKind,
} from '../../src/ml/pipeline/checkpoint';
import { Rng } from '../../src/ml/util/rng';

/**
 * A crash between the steps of a checkpoint's promotion (folder written, "last" swapped, "best"
 * swapped) is put right by repairCheckpoints: "last" is the commit point.
 */
const root = mkdtempSync(join(tmpdir(), 'bs-ckpt-repair-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const sd = new Map([['w', { shape: [2], data: Float32Array.of(1, 2) }]]);
const write = (runDir: string, step: number, kinds: CheckpointKind[]) =>
  writeCheckpoint(runDir, {
    model: sd,
    state: new Map(),
    meta: { stage: 'autoencoder', step, epoch: 0, stepInEpoch: step, rng: Rng.fromSeed(1).getState(), bestValLoss: 1 / step, lastValLoss: 1 / step, kinds, config: {} },
  });
const folders = (runDir: string) => readdirSync(checkpointsDir(runDir)).sort();
const pointerStep = (runDir: string, kind: CheckpointKind) => readCheckpointMeta(checkpointDir(runDir, kind)!).step;

describe('repairCheckpoints', () => {
  it('finishes a promotion cut short between the "last" and "best" swaps', () => {
    const runDir = join(root, 'between-swaps');
    promoteCheckpoint(runDir, write(runDir, 1, ['last', 'best']), ['last', 'best']);
    const second = write(runDir, 2, ['last', 'best']);
    // The crash: "last" points at step 2, "best" still at step 1.
    writeFileSync(join(checkpointsDir(runDir), 'last.json'), JSON.stringify({ dir: 'step-00000002', step: 2 }));
    expect(pointerStep(runDir, 'best')).toBe(1);
    repairCheckpoints(runDir);
    expect(pointerStep(runDir, 'best')).toBe(2);
    expect(checkpointDir(runDir, 'best')).toBe(second.dir);
    expect(folders(runDir)).toEqual(['best.json', 'last.json', 'step-00000002']);
  });

  it('deletes a folder that never became a checkpoint and temp files of a cut-short pointer write', () => {
    const runDir = join(root, 'orphan');
    promoteCheckpoint(runDir, write(runDir, 1, ['last', 'best']), ['last', 'best']);
    promoteCheckpoint(runDir, write(runDir, 2, ['last']), ['last']);
    write(runDir, 3, ['last', 'best']);
    writeFileSync(join(checkpointsDir(runDir), '.last.json.123.456.tmp'), '{');
    repairCheckpoints(runDir);
    expect(folders(runDir)).toEqual(['best.json', 'last.json', 'step-00000001', 'step-00000002']);
    expect(pointerStep(runDir, 'last')).toBe(2);
    expect(pointerStep(runDir, 'best')).toBe(1);
    // A checkpoint written for "last" only never moves "best".
    expect(JSON.parse(readFileSync(join(checkpointsDir(runDir), 'best.json'), 'utf8'))).toEqual({ dir: 'step-00000001', step: 1 });
  });

  it('promotes "last" before "best", whatever order the kinds come in', () => {
    const runDir = join(root, 'order');
    const written = write(runDir, 1, ['best', 'last']);
    // A directory where best.json belongs fails the "best" swap, so only what came before it lands.
    mkdirSync(join(checkpointsDir(runDir), 'best.json'));
    expect(() => promoteCheckpoint(runDir, written, ['best', 'last'])).toThrow();
    expect(pointerStep(runDir, 'last')).toBe(1);
  });
});

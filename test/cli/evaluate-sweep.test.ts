import { describe, expect, it } from 'vitest';
import { sweepGrid, sweepTable } from '../../src/cli/commands/evaluate';
import type { EvaluationResults } from '../../src/backend/evaluation/evaluate';

const stats = (name: string, mean: number) => ({ name, mean, std: 0.1, min: mean, max: mean, n: 3, missing: 0 });

function result(runId: number, guidance: number, psnr: number): EvaluationResults {
  return {
    runId,
    runName: null,
    status: 'completed',
    modelRunId: 7,
    stage: 'controlnet',
    datasetId: 1,
    sampleQuality: null,
    sampling: { guidanceScale: guidance, conditioningScale: 1, samplesPerSlice: 1 },
    split: 'test',
    images: 3,
    model: [stats('psnr', psnr)],
    baselines: { baseline_lut: [stats('psnr', 20)] },
    secondsPerSlice: 1,
    normalisation: null,
    steps: 50,
    seed: 0,
    backend: 'cpu',
    notes: [],
  };
}

describe('evaluation sweeps', () => {
  it('expands comma-separated guidance, conditioning scale and steps into every combination', () => {
    expect(sweepGrid({})).toEqual([{ guidance: undefined, conditioningScale: undefined, steps: undefined }]);
    const grid = sweepGrid({ guidance: '1,3,7', steps: '20, 50' });
    expect(grid).toHaveLength(6);
    expect(grid.map((p) => `${p.guidance}/${p.steps}`)).toEqual(['1/20', '1/50', '3/20', '3/50', '7/20', '7/50']);
  });

  it('prints one row per evaluation with its settings and metrics, and the baselines once', () => {
    const text = sweepTable([result(11, 1, 18.5), result(12, 7, 21.25)]);
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/sweep over 2 evaluations of run 7/);
    expect(text).toMatch(/11\s+1\s+1\s+50\s+18\.500 ± 0\.100/);
    expect(text).toMatch(/12\s+7\s+1\s+50\s+21\.250 ± 0\.100/);
    expect(text).toMatch(/baseline_lut: psnr 20\.000 ± 0\.100/);
  });
});

import { describe, expect, it } from 'vitest';
import type { Artefact } from '../../src/shared/contract';
import { describeTranslation, savedGenerations, translatedVolumes } from '../../src/renderer/src/views/run/run-artefacts';

let nextId = 1;
function artefact(kind: string, path: string, meta: Record<string, unknown>, createdAt = '2026-01-01T00:00:00.000Z'): Artefact {
  return { id: nextId++, runId: 3, datasetId: null, kind, path, step: null, meta, createdAt };
}

describe('run page artefacts', () => {
  it('groups saved Generate panels by generation, newest first, in reading order, and skips other images', () => {
    const first = { jobId: 'slice-1', datasetId: 1, subject: 'sub-01', z: 90, seeds: [3, 4], steps: 50, guidanceScale: 7, metrics: { sample: [], mean: { psnr: 24.5, mae: 0.05 } }, source: 'generate' };
    const list = [
      artefact('image', '/h/runs/3/generated/slice-1/absdiff.png', { ...first, role: 'absdiff' }),
      artefact('image', '/h/runs/3/generated/slice-1/sample_seed4.png', { ...first, role: 'generated' }),
      artefact('image', '/h/runs/3/generated/slice-1/flair.png', { ...first, role: 'flair' }),
      artefact('image', '/h/runs/3/generated/slice-1/sample_seed3.png', { ...first, role: 'generated' }),
      artefact('image', '/h/runs/3/generated/slice-1/std.png', { ...first, role: 'std (scaled, max 0.120)' }),
      artefact('image', '/h/runs/3/figures/val_0010.png', { figure: 'validation' }),
      artefact('image', '/h/runs/3/generated/slice-2/flair.png', { jobId: 'slice-2', z: 91, seeds: [0], metrics: null, source: 'generate', role: 'flair' }, '2026-01-02T00:00:00.000Z'),
    ];
    const groups = savedGenerations(list);
    expect(groups.map((g) => g.jobId)).toEqual(['slice-2', 'slice-1']);
    const g = groups[1]!;
    expect(g).toMatchObject({ subject: 'sub-01', z: 90, steps: 50, guidanceScale: 7, seeds: [3, 4], meanMetrics: { psnr: 24.5, mae: 0.05 } });
    expect(g.panels.map((p) => p.title)).toEqual(['FLAIR', 'Generated (seed 3)', 'Generated (seed 4)', 'Std', '|mean − real|']);
    expect(g.panels.filter((p) => p.colored).map((p) => p.title)).toEqual(['Std', '|mean − real|']);
    // The spread map was stretched to its maximum (0.12) when saved: its colour bar reads in real units.
    expect(g.panels.find((p) => p.title === 'Std')!.unitsPerLevel).toBeCloseTo(0.12 / 255, 12);
    expect(g.panels.find((p) => p.title === 'FLAIR')!.unitsPerLevel).toBeCloseTo(1 / 255, 12);
    expect(groups[0]).toMatchObject({ meanMetrics: {}, subject: null, steps: null });
  });

  it('reads a translated volume\'s subject and sampling settings from its meta', () => {
    const [v, old] = translatedVolumes([
      artefact('volume', '/h/runs/3/translations/sub-01_T1w_synth.nii.gz', { source: '/d/sub-01_FLAIR.nii.gz', steps: 200, seed: 0, sampledSlices: 150, secondsPerSlice: 1.2 }),
      artefact('volume', '/h/runs/3/translations/sub-02_T1w_synth.nii.gz', {
        source: '/h/datasets/1/sub-02_FLAIR.nii.gz',
        datasetId: 1,
        subject: 'sub-02',
        steps: 50,
        sampler: 'ddim',
        guidanceScale: 7,
        conditioningScale: 1,
        brainMask: true,
        seed: 2,
      }),
      artefact('image', '/h/runs/3/x.png', {}),
    ]);
    expect(v).toMatchObject({ fileName: 'sub-02_T1w_synth.nii.gz', datasetId: 1, subject: 'sub-02', steps: 50, guidanceScale: 7, brainMask: true, seed: 2 });
    expect(describeTranslation(v!)).toBe('sub-02 · 50 DDIM steps · guidance 7 · brain mask');
    expect(old).toMatchObject({ datasetId: null, subject: null, guidanceScale: null, brainMask: null, sampledSlices: 150 });
    expect(describeTranslation(old!)).toBe("sub-01_FLAIR.nii.gz · 200 steps · guidance: the run's default");
  });
});

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { computeMetrics, formatMetricsTable, metricsReportJson } from '../../src/cli/commands/metrics';
import { writeNifti } from '../../src/ml/data/nifti';
import { mae, msSsim, psnr } from '../../src/ml/metrics';

const root = mkdtempSync(join(tmpdir(), 'brainsynth-metrics-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function writePng(path: string, pixels: Uint8Array, height: number, width: number): void {
  const png = new PNG({ width, height });
  for (let i = 0; i < pixels.length; i++) {
    png.data[4 * i] = png.data[4 * i + 1] = png.data[4 * i + 2] = pixels[i];
    png.data[4 * i + 3] = 255;
  }
  writeFileSync(path, PNG.sync.write(png));
}

function pattern(height: number, width: number, phase: number): Uint8Array {
  const out = new Uint8Array(height * width);
  for (let r = 0; r < height; r++) for (let c = 0; c < width; c++) out[r * width + c] = Math.round(127 + 120 * Math.sin(r / 9 + phase) * Math.cos(c / 11));
  return out;
}

const H = 120;
const W = 128;
const toFloat = (u8: Uint8Array) => Float32Array.from(u8, (v) => v / 255);

function makePngFolders() {
  const pred = join(root, 'png-pred');
  const target = join(root, 'png-target');
  const mask = join(root, 'png-mask');
  for (const d of [pred, target, mask]) mkdirSync(d, { recursive: true });
  const images: Record<string, { p: Uint8Array; t: Uint8Array }> = {};
  for (const [i, name] of ['a.png', 'b.png'].entries()) {
    const t = pattern(H, W, i);
    const p = pattern(H, W, i + 0.15);
    writePng(join(pred, name), p, H, W);
    writePng(join(target, name), t, H, W);
    const m = new Uint8Array(H * W);
    m.fill(255, 40 * W, 50 * W);
    writePng(join(mask, name), m, H, W);
    images[name] = { p, t };
  }
  writePng(join(pred, 'only-pred.png'), pattern(H, W, 3), H, W);
  return { pred, target, mask, images };
}

describe('brainsynth metrics', () => {
  it('PNG folders: per-image values equal the library metrics, matched by name, with summary', async () => {
    const { pred, target, mask, images } = makePngFolders();
    const report = await computeMetrics({ pred, target, mask });
    expect(report.kind).toBe('png');
    expect(report.rows.map((r) => r.name)).toEqual(['a.png', 'b.png']);
    expect(report.notes.join('\n')).toMatch(/1 only in --pred/);
    for (const row of report.rows) {
      const { p, t } = images[row.name];
      const P = { data: toFloat(p), shape: [1, H, W] };
      const T = { data: toFloat(t), shape: [1, H, W] };
      expect(row.values.psnr).toBeCloseTo(psnr(P, T)[0], 10);
      expect(row.values.mae).toBeCloseTo(mae(P, T)[0], 10);
      expect(row.values.ms_ssim).toBeCloseTo(msSsim(P, T)[0], 10);
      expect(Number.isFinite(row.values.psnr_lesion)).toBe(true);
    }
    const psnrs = report.rows.map((r) => r.values.psnr);
    const mean = (psnrs[0] + psnrs[1]) / 2;
    expect(report.summary.psnr.mean).toBeCloseTo(mean, 10);
    expect(report.summary.psnr.std).toBeCloseTo(Math.abs(psnrs[0] - psnrs[1]) / 2, 10);
    const table = formatMetricsTable(report);
    expect(table).toMatch(/^image\s+psnr\s+mae\s+ms_ssim/);
    expect(table).toMatch(/std \(pop\.\)/);
  });

  it('NIfTI volumes: one row per axial slice with signal, and the CLI prints JSON', () => {
    const dims = [128, 120, 6];
    const n = dims[0] * dims[1];
    const t = new Float32Array(n * dims[2]);
    const p = new Float32Array(n * dims[2]);
    for (let z = 1; z < 5; z++) {
      for (let y = 0; y < dims[1]; y++) {
        for (let x = 0; x < dims[0]; x++) {
          const i = z * n + y * dims[0] + x;
          t[i] = 0.5 + 0.4 * Math.sin(x / 8 + z) * Math.cos(y / 10);
          p[i] = Math.min(1, Math.max(0, t[i] + 0.05 * Math.sin(x * y + z)));
        }
      }
    }
    const affine = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
    const predPath = join(root, 'pred.nii.gz');
    const targetPath = join(root, 'target.nii.gz');
    writeNifti(predPath, { dims, data: p }, affine);
    writeNifti(targetPath, { dims, data: t }, affine);
    const bin = resolve(__dirname, '../../bin/brainsynth.mjs');
    const run = spawnSync(process.execPath, [bin, 'metrics', '--pred', predPath, '--target', targetPath, '--json'], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const report = JSON.parse(run.stdout) as { rows: { name: string; values: Record<string, number> }[]; summary: Record<string, { mean: number; n: number }>; notes: string[] };
    expect(report.rows.map((r) => r.name)).toEqual(['z=1', 'z=2', 'z=3', 'z=4']);
    expect(report.notes.join('\n')).toMatch(/2 axial slices without target signal skipped/);
    const z2 = { data: t.slice(2 * n, 3 * n), shape: [1, dims[1], dims[0]] };
    const z2p = { data: p.slice(2 * n, 3 * n), shape: [1, dims[1], dims[0]] };
    expect(report.rows[1].values.ms_ssim).toBeCloseTo(msSsim(z2p, z2)[0], 9);
    expect(report.summary.psnr.n).toBe(4);
  });

  it('--normalize percentile scales each volume as prepare does, so a few bright outliers do not dim the target', async () => {
    // The target in scanner units (x1000) with 20 hot voxels; the prediction already in [0, 1].
    const dims = [128, 120, 6];
    const n = dims[0] * dims[1];
    const t = new Float32Array(n * dims[2]);
    const p = new Float32Array(n * dims[2]);
    for (let z = 1; z < 5; z++) {
      for (let i = 0; i < n; i++) {
        const v = 0.5 + 0.4 * Math.sin((i % dims[0]) / 8 + z) * Math.cos(Math.floor(i / dims[0]) / 10);
        p[z * n + i] = v;
        t[z * n + i] = 1000 * v;
      }
    }
    for (let k = 0; k < 20; k++) t[2 * n + 500 + 97 * k] = 100_000;
    const affine = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
    const predPath = join(root, 'pct-pred.nii.gz');
    const targetPath = join(root, 'pct-target.nii.gz');
    writeNifti(predPath, { dims, data: p }, affine);
    writeNifti(targetPath, { dims, data: t }, affine);
    const pct = await computeMetrics({ pred: predPath, target: targetPath, normalize: 'percentile' });
    const minmax = await computeMetrics({ pred: predPath, target: targetPath, normalize: 'minmax' });
    expect(pct.normalize).toBe('percentile 0.5/99.5');
    // Both volumes map their 0.5/99.5 percentiles to 0/1: only the hot and the clipped voxels differ.
    expect(pct.summary.mae!.mean).toBeLessThan(0.002);
    expect(minmax.summary.mae!.mean).toBeGreaterThan(0.4);
    const targetOnly = await computeMetrics({ pred: predPath, target: targetPath, normalize: 'percentile', normalizeWhich: 'target', percentiles: [0, 100] });
    expect(targetOnly.normalize).toBe('percentile 0/100 (target only)');
    const bin = resolve(__dirname, '../../bin/brainsynth.mjs');
    const bad = spawnSync(process.execPath, [bin, 'metrics', '--pred', predPath, '--target', targetPath, '--normalize', 'zscore'], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--normalize must be none, minmax, percentile, got "zscore"/);
  });

  it('refuses mismatched inputs with messages naming the files', async () => {
    const dims = [8, 8, 2];
    const affine = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]];
    const a = join(root, 'small-a.nii');
    const b = join(root, 'small-b.nii');
    writeNifti(a, { dims, data: new Float32Array(128).fill(0.5) }, affine);
    writeNifti(b, { dims: [8, 8, 3], data: new Float32Array(192).fill(0.5) }, affine);
    await expect(computeMetrics({ pred: a, target: b })).rejects.toThrow(/small-a\.nii: grid 8x8x2 does not match small-b\.nii 8x8x3/);
    await expect(computeMetrics({ pred: join(root, 'nope.nii'), target: b })).rejects.toThrow(/--pred .*nope\.nii: no such file/);
    await expect(computeMetrics({ pred: root, target: b })).rejects.toThrow(/both be NIfTI files or both be PNG folders/);
    const empty = join(root, 'empty');
    mkdirSync(empty, { recursive: true });
    await expect(computeMetrics({ pred: empty, target: join(root, 'png-target') })).rejects.toThrow(/no PNG file names in common/);
  });

  it('JSON output keeps identical-image PSNR as "inf" and undefined values as null', async () => {
    const { target } = makePngFolders();
    const report = await computeMetrics({ pred: target, target });
    const json = JSON.parse(metricsReportJson(report)) as { rows: { values: { psnr: unknown; mae: number } }[] };
    expect(json.rows[0].values.psnr).toBe('inf');
    expect(json.rows[0].values.mae).toBe(0);
  });
});

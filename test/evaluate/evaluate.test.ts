/**
 * Evaluation runs and the sampling CLI end to end on a tiny phantom dataset (E's phantom +
 * prepare, 3 subjects x 3 axial slices) with a tiny random ControlNet pipeline registered as
 * autoencoder -> ldm -> controlnet runs.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDispatch, createHandlers } from '../../src/backend/api/handlers';
import { openBackend, type Services } from '../../src/backend';
import { createPhantomDataset, getDatasetDetail, prepareDataset, volumeOf } from '../../src/backend/data/datasets';
import { createSampleServices } from '../../src/backend/sampling/generate';
import { readNifti, writeNifti } from '../../src/ml/data/nifti';
import { summarize } from '../../src/ml/metrics';
import { loadPipeline } from '../../src/ml/pipeline';
import { useTestBackend, writeTinyPipeline } from '../sample/fixtures';
import { sharedPath } from '../helpers/shared';

const bin = resolve('bin/brainsynth.mjs');
const MOBILENET = sharedPath('weights/mobilenet_v1_0.25_224/model.json');

function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, BRAINSYNTH_BACKEND: 'wasm' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (status) => done({ status, stdout, stderr }));
  });
}

let root: string;
let home: string;
let services: Services;
let datasetId: number;
let controlnetRunId: number;
let evalRunId: number;
let sliceJobId: string;

beforeAll(async () => {
  await useTestBackend();
  root = mkdtempSync(join(tmpdir(), 'bs-eval-'));
  home = join(root, 'home');
  services = openBackend({ home });
  const store = services.store;
  const ds = await createPhantomDataset(store, services.home, { name: 'phantom', subjects: 3, seed: 3 });
  datasetId = ds.id;
  await prepareDataset(store, services.home, ds.id, {
    slices: '88:91',
    normalisation: 'minmax',
    pinned: { 'sub-phantom01': 'train', 'sub-phantom02': 'validation', 'sub-phantom03': 'test' },
  });
  const config = (stage: string) => ({ stage });
  const ae = services.runs.create({ stage: 'autoencoder', datasetId, config: config('autoencoder'), status: 'completed' });
  const ldm = services.runs.create({ stage: 'ldm', datasetId, config: config('ldm'), status: 'completed', parents: [{ runId: ae.id, role: 'autoencoder' }] });
  const cn = services.runs.create({ stage: 'controlnet', datasetId, config: config('controlnet'), status: 'completed', parents: [{ runId: ldm.id, role: 'ldm' }] });
  controlnetRunId = cn.id;
  writeTinyPipeline({ autoencoder: services.home.runDir(ae.id), ldm: services.home.runDir(ldm.id), controlnet: services.home.runDir(cn.id) });
}, 300_000);

afterAll(async () => {
  if (services) {
    await services.sampling.host.close();
    services.close();
  }
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('evaluation run (service, worker thread)', () => {
  it('stores per-image metric rows, baselines, image triples and a mean ± population std summary', async () => {
    const { evaluate, host } = services.sampling;
    const { run, jobId } = evaluate.start({ runId: controlnetRunId, split: 'test', steps: 2, seed: 4, batch: 3, backend: 'wasm' });
    evalRunId = run.id;
    expect(run.stage).toBe('evaluation');
    expect(run.parents).toEqual([{ runId: controlnetRunId, role: 'controlnet' }]);
    const job = await host.wait(jobId);
    expect(job.error).toBeNull();
    expect(job.state).toBe('completed');
    const stored = services.runs.get(run.id);
    expect(stored.status).toBe('completed');
    expect(stored.backend).toBe('wasm');
    // the ownership file that keeps other processes from declaring the run dead is gone again
    expect(existsSync(join(services.home.runDir(run.id), 'job.json'))).toBe(false);

    const series = services.metrics.query(run.id, { split: 'test' });
    const byName = new Map(series.map((s) => [s.name, s]));
    for (const name of ['psnr', 'mae', 'ms_ssim', 'baseline_lut_psnr', 'baseline_lut_mae', 'baseline_lut_ms_ssim', 'baseline_histmatch_psnr']) {
      expect(byName.get(name)?.steps, name).toEqual([0, 1, 2]);
    }
    // the phantom has lesion masks, so the lesion-aware columns exist (outside-lesion is never empty)
    expect(byName.get('psnr_nonlesion')?.steps).toEqual([0, 1, 2]);

    const results = evaluate.results(run.id, { perImage: true });
    expect(results.images).toBe(3);
    expect(results.modelRunId).toBe(controlnetRunId);
    expect(results.model.map((m) => m.name).slice(0, 3)).toEqual(['psnr', 'mae', 'ms_ssim']);
    const psnr = results.model.find((m) => m.name === 'psnr')!;
    const expected = summarize(byName.get('psnr')!.values);
    expect(psnr.mean).toBeCloseTo(expected.mean, 12);
    expect(psnr.std).toBeCloseTo(expected.std, 12);
    const v = byName.get('mae')!.values;
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    expect(results.model.find((m) => m.name === 'mae')!.std).toBeCloseTo(Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length), 12);
    expect(Object.keys(results.baselines).sort()).toEqual(['baseline_histmatch', 'baseline_lut', 'ceiling_autoencoder']);
    expect(results.stage).toBe('controlnet');
    // The autoencoder ceiling: its reconstruction of the real T1w, scored like the model.
    expect(byName.get('ceiling_autoencoder_ms_ssim')?.steps).toEqual([0, 1, 2]);
    expect(results.baselines.ceiling_autoencoder!.map((m) => m.name).slice(0, 3)).toEqual(['psnr', 'mae', 'ms_ssim']);
    expect(results.secondsPerSlice).toBeGreaterThan(0);
    expect(results.normalisation?.method).toBe('minmax');
    expect(results.perImage!.map((r) => r.subject)).toEqual(['sub-phantom03', 'sub-phantom03', 'sub-phantom03']);
    expect(results.perImage!.map((r) => r.z)).toEqual([88, 89, 90]);
    expect(results.perImage!.map((r) => r.seed)).toEqual([4, 5, 6]);

    const images = services.artefacts.list({ runId: run.id, kind: 'image' });
    expect(images.map((a) => a.step)).toEqual([0, 1, 2]);
    for (const a of images) expect(existsSync(a.path)).toBe(true);
    expect(services.artefacts.list({ runId: run.id, kind: 'evaluation-summary' })).toHaveLength(1);

    const summaryCsv = evaluate.exportCsv([run.id]);
    expect(summaryCsv.csv.split('\n')[0]).toBe('run_id,run_name,model_run_id,split,method,metric,mean,std,n,min,max,seconds_per_slice,normalisation');
    expect(summaryCsv.csv).toContain(`,model,psnr,${psnr.mean},`);
    const perImage = evaluate.exportCsv([run.id], { kind: 'per-image', path: join(root, 'per-image.csv') });
    expect(perImage.rows).toBe(3);
    expect(readFileSync(join(root, 'per-image.csv'), 'utf8')).toBe(perImage.csv);

    const compared = evaluate.compare([run.id, run.id]);
    expect(compared).toHaveLength(2);
  });

  it('K samples per slice: single-sample metrics beside those of their mean, std maps saved, guidance recorded', async () => {
    const { evaluate, host } = services.sampling;
    const { run, jobId } = evaluate.start({ runId: controlnetRunId, split: 'test', steps: 2, seed: 4, limit: 2, samples: 3, guidanceScale: 3, backend: 'wasm' });
    expect((await host.wait(jobId)).error).toBeNull();
    const r = evaluate.results(run.id);
    expect(r.sampling).toEqual({ guidanceScale: 3, conditioningScale: 1, samplesPerSlice: 3, brainMask: true });
    expect(Object.keys(r.baselines).sort()).toEqual(['baseline_histmatch', 'baseline_lut', 'ceiling_autoencoder', 'posterior_mean']);
    const single = r.model.find((m) => m.name === 'psnr')!;
    const mean = r.baselines.posterior_mean!.find((m) => m.name === 'psnr')!;
    expect(mean.n).toBe(2);
    // Sample 0 of slice i uses seed + i, as a single-sample evaluation does.
    expect(evaluate.results(run.id, { perImage: true }).perImage!.map((row) => row.seed)).toEqual([4, 5]);
    expect(mean.mean).not.toBe(single.mean);
    const stdMaps = services.artefacts.list({ runId: run.id, kind: 'std-map' });
    expect(stdMaps.map((a) => a.step)).toEqual([0, 1]);
    for (const a of stdMaps) expect(existsSync(a.path)).toBe(true);
  });

  it("the brain mask follows the run (a desktop run masks) unless asked, and is recorded with its note", async () => {
    const { evaluate, host } = services.sampling;
    const runs = [true, false].map((mask) => evaluate.start({ runId: controlnetRunId, split: 'test', steps: 2, seed: 4, limit: 1, backend: 'wasm', ...(mask ? {} : { brainMask: false }) }));
    for (const { jobId } of runs) expect((await host.wait(jobId)).error).toBeNull();
    const [masked, unmasked] = runs.map(({ run }) => evaluate.results(run.id));
    expect(masked!.sampling?.brainMask).toBe(true);
    expect(masked!.notes.some((n) => n.includes("outside each FLAIR slice's brain"))).toBe(true);
    expect(unmasked!.sampling?.brainMask).toBe(false);
    expect(unmasked!.notes.some((n) => n.includes('brain'))).toBe(false);
  });

  it('--dataset: a model applied to another prepared dataset says how it differs from the training data', async () => {
    const other = await createPhantomDataset(services.store, services.home, { name: 'other site', subjects: 1, seed: 9 });
    await prepareDataset(services.store, services.home, other.id, { slices: '89:90', normalisation: 'percentile', pinned: { 'sub-phantom01': 'test' } });
    const { evaluate, host } = services.sampling;
    const { run, jobId } = evaluate.start({ runId: controlnetRunId, dataset: 'other site', split: 'test', steps: 1, saveImages: false, backend: 'wasm' });
    expect(run.datasetId).toBe(other.id);
    expect((await host.wait(jobId)).error).toBeNull();
    const r = evaluate.results(run.id);
    expect(r.datasetId).toBe(other.id);
    expect(r.images).toBe(1);
    expect(r.normalisation?.method).toBe('percentile');
    expect(r.notes.join('\n')).toMatch(/evaluated on dataset "other site", not the training dataset "phantom"/);
    expect(r.notes.join('\n')).toMatch(/intensity scaling differs: trained on minmax, evaluated on percentile/);
    // A test-only dataset has no train split to fit the baselines on: said, not failed.
    expect(Object.keys(r.baselines)).toEqual(['ceiling_autoencoder']);
    expect(r.notes.join('\n')).toMatch(/model-free baselines omitted: the train split of the evaluated dataset is empty/);
  });

  it('cancelling a running evaluation stops it and marks the run cancelled', async () => {
    const { host, evaluate } = createSampleServices(services, { inProcess: true });
    const { run, jobId } = evaluate.start({ runId: controlnetRunId, split: 'test', steps: 50, limit: 1, saveImages: false });
    const off = services.events.on('job.progress', (p) => {
      if (p.jobId === jobId && /step [1-9]/.test(p.message ?? '')) host.cancel(jobId);
    });
    const job = await host.wait(jobId);
    off();
    expect(job.state).toBe('cancelled');
    expect(services.runs.get(run.id).status).toBe('cancelled');
    expect(services.metrics.query(run.id)).toEqual([]);
  });

  it('honours a cancel requested by another process (runs.cancel_requested, as `brainsynth cancel`)', async () => {
    const { host, evaluate } = createSampleServices(services, { inProcess: true });
    const { run, jobId } = evaluate.start({ runId: controlnetRunId, split: 'test', steps: 1000, limit: 1, saveImages: false });
    services.store.db.prepare('UPDATE runs SET cancel_requested = 1 WHERE id = ?').run(run.id);
    const job = await host.wait(jobId);
    expect(job.state).toBe('cancelled');
    const after = services.store.db.prepare('SELECT status, cancel_requested AS c FROM runs WHERE id = ?').get(run.id) as { status: string; c: number };
    expect(after).toEqual({ status: 'cancelled', c: 0 });
  });

  it('a resolved ControlNet run folder loads on its own (pipeline.json names its parents)', () => {
    const runDir = services.home.runDir(controlnetRunId);
    expect(existsSync(join(runDir, 'pipeline.json'))).toBe(true);
    const p = loadPipeline(runDir);
    try {
      expect(p.controlnet).not.toBeNull();
      expect(p.info.imageSize).toEqual([40, 56]);
    } finally {
      p.dispose();
    }
    expect(() => loadPipeline(root)).toThrow(/no pipeline\.json naming the parent runs/);
  });

  it('refuses sample options for a run that draws no unconditional samples, and unknown runs and datasets', () => {
    const { evaluate } = services.sampling;
    expect(() => evaluate.start({ runId: controlnetRunId, steps: 1, features: '/x/model.json' })).toThrow(/--features scores unconditional samples .* is a controlnet run/);
    expect(() => evaluate.start({ runId: 9999, steps: 1 })).toThrow(/run 9999 does not exist/);
    expect(() => evaluate.start({ runId: controlnetRunId, steps: 1, dataset: 'nope' })).toThrow(/dataset "nope" does not exist/);
  });

  it('an autoencoder run: reconstruction metrics of the real T1w per image, real | reconstruction pairs', async () => {
    const { evaluate, host } = services.sampling;
    const ae = services.runs.get(services.runs.get(controlnetRunId).parents[0]!.runId).parents[0]!.runId;
    const { run, jobId } = evaluate.start({ runId: ae, split: 'test', backend: 'wasm' });
    expect(run.parents).toEqual([{ runId: ae, role: 'autoencoder' }]);
    const job = await host.wait(jobId);
    expect(job.error).toBeNull();
    const r = evaluate.results(run.id, { perImage: true });
    expect(r.stage).toBe('autoencoder');
    expect(r.modelRunId).toBe(ae);
    expect(r.images).toBe(3);
    expect(r.model.map((m) => m.name).slice(0, 3)).toEqual(['psnr', 'mae', 'ms_ssim']);
    expect(r.model.find((m) => m.name === 'ms_ssim')!.n).toBe(3);
    expect(r.baselines).toEqual({});
    expect(r.sampleQuality).toBeNull();
    expect(r.notes.join(' ')).toMatch(/posterior mean/);
    const images = services.artefacts.list({ runId: run.id, kind: 'image' });
    expect(images).toHaveLength(3);
    expect(images[0]!.meta.layout).toEqual(['t1w', 'reconstruction']);
  });

  it('an LDM run without a feature network: diversity stored, the Frechet distance not computed and why', async () => {
    const { evaluate, host } = services.sampling;
    const ldm = services.runs.get(controlnetRunId).parents[0]!.runId;
    const { run, jobId } = evaluate.start({ runId: ldm, split: 'test', samples: 3, steps: 2, seed: 5, backend: 'wasm' });
    const job = await host.wait(jobId);
    expect(job.error).toBeNull();
    const r = evaluate.results(run.id);
    expect(r.stage).toBe('ldm');
    expect(r.images).toBe(3);
    expect(r.sampleQuality!.frechet.computed).toBe(false);
    expect(r.sampleQuality!.frechet.reason).toMatch(/no feature network given/);
    expect(r.sampleQuality!.diversity!.orderedPairs).toBe(6);
    expect(r.model.map((m) => m.name)).toEqual(['ms_ssim_diversity']);
    expect(r.notes.join(' ')).toMatch(/Frechet distance not computed/);
    const images = services.artefacts.list({ runId: run.id, kind: 'image' });
    expect(images.map((a) => a.meta.seed)).toEqual([5, 6, 7]);
  });

  it.skipIf(!existsSync(MOBILENET))('an LDM run with a feature network: a named Frechet distance, a loud small-sample warning, cached real features', async () => {
    const { evaluate, host } = services.sampling;
    const ldm = services.runs.get(controlnetRunId).parents[0]!.runId;
    const first = evaluate.start({ runId: ldm, split: 'test', samples: 4, steps: 2, seed: 1, backend: 'wasm', features: MOBILENET, saveImages: false });
    expect((await host.wait(first.jobId)).error).toBeNull();
    const r1 = evaluate.results(first.run.id);
    const f = r1.sampleQuality!.frechet;
    expect(f.computed).toBe(true);
    expect(f.name).toBe('frechet_distance[mobilenet_v1_0.25_224:conv_pw_13_relu]');
    expect(f.value).toBeGreaterThan(0);
    expect(f.samples).toBe(4);
    expect(f.realImages).toBe(3);
    expect(f.featureDim).toBe(256);
    expect(f.warning).toMatch(/rank 2 of 256/);
    expect(f.realFeaturesCached).toBe(false);
    expect(r1.notes.join(' ')).toMatch(/WARNING: .*biased/);
    expect(r1.model.map((m) => m.name).sort()).toEqual([f.name, 'ms_ssim_diversity'].sort());
    expect(r1.baselines.ceiling_autoencoder!.map((m) => m.name)).toEqual([f.name]);
    const second = evaluate.start({ runId: ldm, split: 'test', samples: 4, steps: 2, seed: 1, backend: 'wasm', features: MOBILENET, saveImages: false });
    expect((await host.wait(second.jobId)).error).toBeNull();
    const f2 = evaluate.results(second.run.id).sampleQuality!.frechet;
    expect(f2.realFeaturesCached).toBe(true);
    expect(f2.value).toBeCloseTo(f.value!, 6);
  });

  it('slice generation: N samples, mean/std maps, metrics against the real T1w, saved as artefacts', async () => {
    const { generate, host } = services.sampling;
    const { jobId } = await generate.slice({ runId: controlnetRunId, subject: 'phantom03', z: 89, samples: 2, steps: 2, seed: 10, backend: 'wasm' });
    sliceJobId = jobId;
    const job = await host.wait(jobId);
    expect(job.error).toBeNull();
    const view = generate.result(jobId);
    expect(view.seeds).toEqual([10, 11]);
    expect(view.images!.samples).toHaveLength(2);
    expect(view.images!.t1w).toMatch(/^data:image\/png;base64,/);
    expect(view.images!.stdMax).toBeGreaterThan(0);
    expect(Object.keys(view.metrics!.mean)).toEqual(expect.arrayContaining(['psnr', 'mae', 'ms_ssim']));
    const saved = generate.save(jobId);
    expect(saved.map((a) => a.meta.role)).toEqual(expect.arrayContaining(['flair', 'generated', 'mean', 't1w', 'absdiff']));
    for (const a of saved) expect(existsSync(a.path)).toBe(true);
  });
});

describe('contract channels', () => {
  it('answer through the validating dispatch (non-finite metric values go out as null)', async () => {
    const dispatch = createDispatch(createHandlers({ services, host: 'test' }));
    const results = await dispatch('evaluate.results', { runId: evalRunId, perImage: true });
    expect(results.ok, JSON.stringify(results)).toBe(true);
    const data = (results as { data: { model: { name: string }[]; perImage: unknown[] } }).data;
    expect(data.model.map((m) => m.name)).toContain('ms_ssim');
    expect(data.perImage).toHaveLength(3);
    const view = await dispatch('generate.result', { jobId: sliceJobId });
    expect(view.ok, JSON.stringify(view).slice(0, 500)).toBe(true);
    const csv = await dispatch('evaluate.exportCsv', { runIds: [evalRunId], kind: 'per-image' });
    expect(csv.ok).toBe(true);
    const jobs = await dispatch('generate.jobs', {});
    expect(jobs.ok).toBe(true);
    const bad = await dispatch('generate.slice', { runId: controlnetRunId, samples: 0 });
    expect(bad.ok).toBe(false);
    const image = services.artefacts.list({ runId: evalRunId, kind: 'image' })[0]!;
    const bytes = await dispatch('generate.artefactData', { artefactId: image.id });
    expect(bytes.ok).toBe(true);
    expect((bytes as { data: { dataUrl: string } }).data.dataUrl).toMatch(/^data:image\/png;base64,iVBOR/);
    const outside = services.artefacts.add({ runId: evalRunId, kind: 'image', path: resolve('package.json') });
    const refused = await dispatch('generate.artefactData', { artefactId: outside.id });
    expect(refused.ok).toBe(false);
    expect(JSON.stringify(refused)).toMatch(/not a file of a run in this home/);
    const notFound = await dispatch('generate.result', { jobId: 'slice-nope' });
    expect(notFound.ok).toBe(false);
    expect(JSON.stringify(notFound)).toMatch(/does not exist/);
  });
});

describe('CLI end to end', () => {
  it('brainsynth translate writes a T1w NIfTI on the FLAIR grid', async () => {
    const detail = getDatasetDetail(services.store.db, datasetId);
    const flair = await readNifti(volumeOf(detail.subjects[2]!, 'FLAIR')!.path);
    // keep 2 axial slices with signal so the test samples only those
    const [nx, ny] = flair.dims;
    const plane = nx * ny;
    const data = new Float32Array(flair.data.length);
    data.set(flair.data.subarray(88 * plane, 90 * plane), 88 * plane);
    const input = join(root, 'sub-test_FLAIR.nii.gz');
    writeNifti(input, { dims: flair.dims, data }, flair.affine, { qformCode: flair.qformCode, sformCode: flair.sformCode });
    const out = join(root, 'T1w_synth.nii.gz');
    const r = await cli(['--home', home, 'translate', '--run', String(controlnetRunId), '--flair', input, '--out', out, '--steps', '2', '--seed', '1']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/wrote .*T1w_synth\.nii\.gz: 2 slices sampled, 180 empty slices skipped \(\d+\.\d+ s per slice\)/);
    const synth = await readNifti(out);
    expect(synth.dims).toEqual(flair.dims);
    expect(synth.affine).toEqual(flair.affine);
    expect(synth.data.subarray(0, 88 * plane).every((v) => v === 0)).toBe(true);
    expect(synth.data.subarray(88 * plane, 90 * plane).some((v) => v > 0)).toBe(true);
  });

  it('brainsynth sample draws unconditional LDM samples and reports their MS-SSIM diversity', async () => {
    const ldm = services.runs.get(controlnetRunId).parents[0]!.runId;
    const r = await cli(['--home', home, 'sample', '--run', String(ldm), '--samples', '2', '--steps', '2', '--json', '--out-dir', join(root, 'uncond')]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { ldmRunId: number; msSsimDiversity: { mean: number; orderedPairs: number } };
    expect(out.ldmRunId).toBe(ldm);
    expect(out.msSsimDiversity.orderedPairs).toBe(2);
    expect(out.msSsimDiversity.mean).toBeGreaterThan(0);
    expect(out.msSsimDiversity.mean).toBeLessThanOrEqual(1);
    expect(existsSync(join(root, 'uncond', 'sample_1.png'))).toBe(true);
  });

  it('brainsynth evaluate prints model vs baselines and the sampling time, then --show / --csv', async () => {
    const r = await cli(['--home', home, 'evaluate', '--run', String(controlnetRunId), '--split', 'test', '--steps', '2', '--limit', '2', '--no-images']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/split test, 2 images, 2 steps, seed 0/);
    expect(r.stdout).toMatch(/metric\s+model\s+baseline_histmatch\s+baseline_lut/);
    expect(r.stdout).toMatch(/psnr\s+\d+\.\d{3} ± \d+\.\d{3}/);
    expect(r.stdout).toMatch(/sampling time: \d+\.\d+ s per slice/);
    const id = /evaluation run (\d+)/.exec(r.stdout)![1]!;
    const csv = join(root, 'eval.csv');
    const shown = await cli(['--home', home, 'evaluate', '--show', id, '--csv', csv]);
    expect(shown.status, shown.stderr).toBe(0);
    expect(readFileSync(csv, 'utf8')).toContain(`${id},`);
    const base = await cli(['--home', home, 'evaluate', '--baselines-only', '--dataset', 'phantom', '--split', 'test']);
    expect(base.status, base.stderr).toBe(0);
    expect(base.stdout).toMatch(/model-free baselines on dataset "phantom" \(minmax normalisation\), split test, 3 images/);
    expect(base.stdout).toMatch(/ms_ssim\s+\d\.\d{4} ± \d\.\d{4}\s+\d\.\d{4} ± /);
    const sweep = await cli(['--home', home, 'evaluate', '--run', String(controlnetRunId), '--guidance', '1,7', '--steps', '1', '--limit', '1', '--no-images']);
    expect(sweep.status, sweep.stderr).toBe(0);
    expect(sweep.stdout).toMatch(/sweep over 2 evaluations of run \d+, split test, 1 images/);
    expect(sweep.stdout).toMatch(/eval run\s+guidance\s+conditioning\s+steps\s+psnr/);
    expect(sweep.stdout).toMatch(/\d+\s+1\s+1\s+1\s+\d+\.\d{3}/);
    expect(sweep.stdout).toMatch(/\d+\s+7\s+1\s+1\s+\d+\.\d{3}/);
    const bad = await cli(['--home', home, 'evaluate', '--split', 'test']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/evaluate needs --run/);
  });
});

/**
 * `brainsynth export-onnx` end to end: a tiny random autoencoder -> ldm -> controlnet pipeline
 * registered as runs, exported by the CLI, the files run in onnxruntime and compared with the
 * tfjs networks loaded from the same checkpoints.
 */
import * as tf from '@tensorflow/tfjs';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBackend, type Services } from '../../src/backend';
import { hostFromNhwc } from '../../src/ml/nn';
import { ONNX_MANIFEST, type OnnxExportManifest } from '../../src/ml/onnx/export';
import { loadOnnxRuntime, type OrtModule } from '../../src/ml/onnx/runtime';
import { loadPipeline, type SamplingPipeline } from '../../src/ml/pipeline';
import { relativeL2 } from '../../src/ml/util/relative-l2';
import { useTestBackend, writeTinyPipeline } from '../sample/fixtures';

const bin = resolve('bin/brainsynth.mjs');
const ortLoad = await loadOnnxRuntime();

function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [bin, ...args]);
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
let cnRunId: number;
let pipeline: SamplingPipeline;

beforeAll(async () => {
  await useTestBackend();
  root = mkdtempSync(join(tmpdir(), 'bs-export-onnx-'));
  home = join(root, 'home');
  services = openBackend({ home });
  const config = (stage: string) => ({ stage });
  const ae = services.runs.create({ stage: 'autoencoder', config: config('autoencoder'), status: 'completed' });
  const ldm = services.runs.create({ stage: 'ldm', config: config('ldm'), status: 'completed', parents: [{ runId: ae.id, role: 'autoencoder' }] });
  const cn = services.runs.create({ stage: 'controlnet', config: config('controlnet'), status: 'completed', parents: [{ runId: ldm.id, role: 'ldm' }] });
  cnRunId = cn.id;
  const dirs = { autoencoder: services.home.runDir(ae.id), ldm: services.home.runDir(ldm.id), controlnet: services.home.runDir(cn.id) };
  writeTinyPipeline(dirs);
  pipeline = loadPipeline(dirs);
}, 300_000);

afterAll(() => {
  pipeline?.dispose();
  services?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe.skipIf(!ortLoad.ort)('brainsynth export-onnx', () => {
  const ort = ortLoad.ort as OrtModule;

  it('writes unet/controlnet/decoder/encoder .onnx and a manifest; the files equal the tfjs networks', async () => {
    const out = join(root, 'onnx');
    const r = await cli(['--home', home, 'export-onnx', '--run', String(cnRunId), '--out', out, '--json']);
    expect(r.stderr + r.stdout).not.toMatch(/Error/);
    expect(r.status).toBe(0);
    const manifest = JSON.parse(readFileSync(join(out, ONNX_MANIFEST), 'utf8')) as OnnxExportManifest;
    expect(JSON.parse(r.stdout)).toEqual(manifest);
    expect(Object.keys(manifest.files).sort()).toEqual(['controlnet', 'decoder', 'encoder', 'unet']);
    expect(manifest.meta).toMatchObject({ runId: cnRunId, imageSize: [40, 56] });
    for (const f of Object.values(manifest.files)) {
      const bytes = readFileSync(join(out, f.file));
      expect(bytes.byteLength).toBe(f.bytes);
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(f.sha256);
    }

    const open = (name: string) => ort.InferenceSession.create(readFileSync(join(out, manifest.files[name].file)));
    const [unetS, cnS, decS] = await Promise.all([open('unet'), open('controlnet'), open('decoder')]);
    const x = tf.randomNormal([2, 20, 28, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const cond = tf.randomUniform([2, 40, 56, 1], 0, 1, 'float32', 2) as tf.Tensor4D;
    const ctx = pipeline.context.repeat('prompt', 2);
    const t = tf.tensor1d([700, 20]);
    const nchw = async (v: tf.Tensor4D) => {
      const h = await hostFromNhwc(v);
      return new ort.Tensor('float32', h.data, h.shape);
    };
    const feeds = {
      x: await nchw(x),
      timesteps: new ort.Tensor('float32', Float32Array.of(700, 20), [2]),
      context: new ort.Tensor('float32', Float32Array.from(await ctx.data()), ctx.shape),
    };
    const residuals = await cnS.run({ ...feeds, controlnet_cond: await nchw(cond), conditioning_scale: new ort.Tensor('float32', Float32Array.of(0.8), [1]) });
    const got = await unetS.run({ ...feeds, ...residuals });
    const want = await hostFromNhwc(
      tf.tidy(() => pipeline.unet.forward(x, t, ctx, pipeline.controlnet!.forward(x, t, ctx, cond, 0.8))),
    );
    expect(got.out.dims).toEqual(want.shape);
    expect(relativeL2(got.out.data as Float32Array, want.data)).toBeLessThan(1e-4);

    const z = tf.randomNormal([1, 20, 28, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
    const img = await decS.run({ z: await nchw(z) });
    const wantImg = await hostFromNhwc(tf.tidy(() => pipeline.ae.decode(z)));
    expect(relativeL2(img.image.data as Float32Array, wantImg.data)).toBeLessThan(1e-4);
    // The manifest names the residual inputs the unet file expects.
    expect(manifest.files.unet.inputs.map((i) => i.name)).toEqual(['x', 'timesteps', 'context', ...Object.keys(residuals)]);
    await Promise.all([unetS.release(), cnS.release(), decS.release()]);
    tf.dispose([x, cond, ctx, t, z]);
  }, 300_000);

  it('refuses an unknown run with a clear message', async () => {
    const r = await cli(['--home', home, 'export-onnx', '--run', '999', '--out', join(root, 'nope')]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/run 999 does not exist/);
  }, 120_000);
});


import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StateDict } from '../../src/ml/io';
import {
  checkpointDir,
  DEFAULT_LATENT_SCALE,
  loadCheckpoint,
  loadLdm,
  loadPipeline,
  promoteCheckpoint,
  samplingScheduler,
  writeCheckpoint,
} from '../../src/ml/pipeline';
import { DDIMScheduler, DDPMScheduler, type NoiseGenerator } from '../../src/ml/schedulers';
import { REFERENCE_SCHEDULER } from '../../src/ml/train/config';
import { useTestBackend, writeTinyPipeline } from '../sample/fixtures';

let dir: string;
const dirs = () => ({ autoencoder: join(dir, 'ae'), ldm: join(dir, 'ldm'), controlnet: join(dir, 'cn') });

beforeAll(async () => {
  await useTestBackend();
  dir = mkdtempSync(join(tmpdir(), 'bs-pipeline-'));
  writeTinyPipeline(dirs());
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of run `from` as run `to`, with its state's latent_scale and config's ldm.latentScale replaced. */
function copyRun(from: string, to: string, stateScale: number | null, configScale?: number | 'auto'): string {
  const ckpt = loadCheckpoint(checkpointDir(join(dir, from))!);
  const state: StateDict = new Map(ckpt.state);
  state.delete('latent_scale');
  if (stateScale !== null) state.set('latent_scale', { shape: [1], data: Float32Array.of(stateScale) });
  const config = structuredClone(ckpt.meta.config) as { ldm?: { latentScale: number | 'auto' } };
  if (configScale !== undefined) config.ldm!.latentScale = configScale;
  const { format: _f, version: _v, files: _fs, createdAt: _c, ...meta } = ckpt.meta;
  const runDir = join(dir, to);
  const written = writeCheckpoint(runDir, { model: ckpt.model, state, context: ckpt.context ?? undefined, meta: { ...meta, config } });
  promoteCheckpoint(runDir, written, ['last']);
  return runDir;
}

describe('one latent scale for training and sampling', () => {
  it('takes the scale the checkpoint records, else the config number, else the reference 0.3', () => {
    const scaleOf = (runDir: string) => {
      const ldm = loadLdm(runDir);
      ldm.dispose();
      return [ldm.latentScale, ldm.latentScaleFrom];
    };
    expect(scaleOf(join(dir, 'ldm'))).toEqual([Math.fround(0.5), 'checkpoint']);
    expect(scaleOf(copyRun('ldm', 'ldm-config-only', null, 0.7))).toEqual([0.7, 'config']);
    expect(DEFAULT_LATENT_SCALE).toBe(0.3);
    expect(scaleOf(copyRun('ldm', 'ldm-unrecorded', null, 'auto'))).toEqual([DEFAULT_LATENT_SCALE, 'default']);
  });

  it('a ControlNet checkpoint without a scale samples with its LDM\'s', () => {
    const cn = copyRun('cn', 'cn-unrecorded', null);
    const ldm = copyRun('ldm', 'ldm-0.4', 0.4);
    const p = loadPipeline({ ...dirs(), controlnet: cn, ldm });
    p.dispose();
    expect(p.info.latentScale).toBe(Math.fround(0.4));
    expect(p.info.latentScaleFrom).toBe('checkpoint');
    const own = loadPipeline(dirs());
    own.dispose();
    expect([own.info.latentScale, own.info.latentScaleFrom]).toEqual([Math.fround(0.5), 'checkpoint']);
  });
});

describe('one scheduler interface', () => {
  class CountingNoise implements NoiseGenerator {
    draws = 0;
    fillNormal(out: Float32Array): Float32Array {
      this.draws++;
      return out.fill(0.5);
    }
  }

  it('DDPM and DDIM take the same step options; noise is drawn only where a step adds it', () => {
    const ddim = samplingScheduler(REFERENCE_SCHEDULER, 'ddim', 4);
    const ddpm = samplingScheduler(REFERENCE_SCHEDULER, 'ddpm', 4);
    expect(ddim).toBeInstanceOf(DDIMScheduler);
    expect(ddpm).toBeInstanceOf(DDPMScheduler);
    expect(Array.from(ddim.timesteps)).toEqual([750, 500, 250, 0]);
    const x = tf.ones([1, 2, 2, 1]);
    const out = tf.zeros([1, 2, 2, 1]);
    const step = (s: typeof ddim, eta: number) => {
      const generator = new CountingNoise();
      const r = s.step(out, 750, x, { eta, generator });
      r.prevSample.dispose();
      r.predOriginalSample.dispose();
      return generator.draws;
    };
    expect(step(ddim, 0)).toBe(0);
    expect(step(ddim, 1)).toBe(1);
    expect(step(ddpm, 0)).toBe(1);
    x.dispose();
    out.dispose();
  });
});

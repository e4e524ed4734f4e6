import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../src/ml/io';
import { initEngine } from '../../src/ml/engine';
import { applyOverrides, type TrainConfig } from '../../src/ml/train/config';
import { ConditioningContext } from '../../src/ml/pipeline/context';
import { buildTrainConfig, validateTrainConfig, type ParentRunInfo } from '../../src/ml/train/validate';
import { desktopChildBudget } from '../../src/ml/train/pipeline-budget';
import { Rng } from '../../src/ml/util/rng';

let root: string;
beforeAll(async () => {
  await initEngine({ backend: 'cpu' });
  root = mkdtempSync(join(tmpdir(), 'bs-config-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const parentOf = (config: TrainConfig, runId = 1): ParentRunInfo => ({
  runId,
  stage: config.stage,
  status: 'completed',
  config,
  hasCheckpoint: true,
  runDir: '/nonexistent',
  parentDirs: {},
});

describe('training configs', () => {
  it('overrides accept dotted keys with JSON values and refuse typos and type changes', () => {
    const base = { loop: { epochs: 3, seed: 1 }, ldm: { latentScale: 0.3 as number | 'auto', contextFile: null as string | null } };
    const out = applyOverrides(base, ['loop.epochs=5', 'ldm.latentScale=auto', 'ldm.contextFile=/x/ctx.safetensors']);
    expect(out).toEqual({ loop: { epochs: 5, seed: 1 }, ldm: { latentScale: 'auto', contextFile: '/x/ctx.safetensors' } });
    expect(base.loop.epochs).toBe(3);
    expect(() => applyOverrides(base, ['loop.epoch=5'])).toThrow(/--set loop\.epoch: unknown config key \(known here: epochs, seed\)/);
    expect(() => applyOverrides(base, ['loop.epochs=many'])).toThrow(/--set loop\.epochs: expected a number/);
    expect(() => applyOverrides(base, ['nope.x=1'])).toThrow(/unknown config key \(no section "nope"\)/);
    expect(() => applyOverrides(base, ['epochs'])).toThrow(/expected key=value/);
  });

  it('the reference and desktop presets are valid; the reference keeps the published values', () => {
    for (const preset of ['reference', 'desktop'] as const) {
      const ae = buildTrainConfig({ stage: 'autoencoder', preset, overrides: [] });
      expect(() => validateTrainConfig(ae)).not.toThrow();
    }
    const ref = buildTrainConfig({ stage: 'autoencoder', preset: 'reference', overrides: [] });
    expect(ref.imageSize).toEqual([160, 224]);
    expect(ref.autoencoder).toMatchObject({ lr: 1e-5, discLr: 5e-5, klWeight: 1e-8, perceptualWeight: 0.002, advWeight: 0.005, advStartEpoch: 10, gradClip: 1 });
    expect(ref.loop).toMatchObject({ epochs: 100, seed: 42, valEvery: 5 });
    const ldm = buildTrainConfig({ stage: 'ldm', preset: 'reference', overrides: [], parent: parentOf(ref) });
    expect(ldm.ldm).toMatchObject({ lr: 2.5e-5, weightDecay: 0.01, promptDropout: 0.1, latentScale: 0.3 });
    expect(ldm.ldm!.scheduler).toEqual({ numTrainTimesteps: 1000, schedule: 'scaled_linear_beta', betaStart: 0.0015, betaEnd: 0.0205, predictionType: 'v_prediction' });
  });

  it('children inherit the parent image size and latent channels; a ControlNet mirrors its UNet', () => {
    const ae = buildTrainConfig({ stage: 'autoencoder', preset: 'desktop', overrides: ['autoencoder.network.latent_channels=4'] });
    const ldm = buildTrainConfig({ stage: 'ldm', preset: 'desktop', overrides: [], parent: parentOf(ae) });
    expect(ldm.imageSize).toEqual([80, 112]);
    expect(ldm.ldm!.network).toMatchObject({ in_channels: 4, out_channels: 4 });
    const cn = buildTrainConfig({ stage: 'controlnet', preset: 'desktop', overrides: [], parent: parentOf(ldm, 2) });
    const { conditioning_embedding_in_channels, conditioning_embedding_num_channels, ...mirrored } = cn.controlnet!.network;
    const { out_channels: _drop, ...unet } = ldm.ldm!.network;
    expect(mirrored).toEqual(unet);
    expect([conditioning_embedding_in_channels, conditioning_embedding_num_channels]).toEqual([1, [16, 32, 32]]);
  });

  it('a desktop ControlNet samples at guidance 1, scale 1.5, masked to the brain (its LDM keeps guidance 7); the reference at 7 and 1 unmasked, as published', () => {
    const chain = (preset: 'desktop' | 'reference') => {
      const ae = buildTrainConfig({ stage: 'autoencoder', preset, overrides: [] });
      const ldm = buildTrainConfig({ stage: 'ldm', preset, overrides: [], parent: parentOf(ae) });
      return { ldm, cn: buildTrainConfig({ stage: 'controlnet', preset, overrides: [], parent: parentOf(ldm, 2) }) };
    };
    const desktop = chain('desktop');
    expect(desktop.cn.controlnet).toMatchObject({ guidanceScale: 1, sampleConditioningScale: 1.5, sampleBrainMask: true });
    expect(desktop.ldm.ldm).toMatchObject({ guidanceScale: 7 });
    expect(chain('reference').cn.controlnet).toMatchObject({ guidanceScale: 7, conditioningScale: 1, sampleConditioningScale: 1, sampleBrainMask: false });
    const cn = desktop.cn;
    expect(() => validateTrainConfig(applyOverrides(cn, ['controlnet.sampleBrainMask=false']))).not.toThrow();
    expect(() => validateTrainConfig({ ...cn, controlnet: { ...cn.controlnet!, sampleBrainMask: 'yes' as never } })).toThrow(/controlnet\.sampleBrainMask must be true or false, got "yes"/);
  });

  it('a desktop child defaults to what its parents left of the 60-minute pipeline, never less than its own default', () => {
    const runWith = (name: string, minutes: number | null): string => {
      const dir = join(root, name);
      mkdirSync(dir, { recursive: true });
      if (minutes !== null) writeFileSync(join(dir, 'training-summary.json'), JSON.stringify({ schedule: { elapsedSeconds: minutes * 60 } }));
      return dir;
    };
    const ae = buildTrainConfig({ stage: 'autoencoder', preset: 'desktop', overrides: [] });
    expect(ae.loop.budgetMinutes).toBe(20);
    const aeDir = runWith('ae-13', 13);
    // 47 minutes left: the LDM takes its 15:40 share, the ControlNet the rest.
    const ldm = buildTrainConfig({ stage: 'ldm', preset: 'desktop', overrides: [], parent: { ...parentOf(ae), runDir: aeDir } });
    expect(ldm.loop.budgetMinutes).toBe(17.5);
    // The note's numbers multiply out: 15/40 of 46.7 is 17.51, floored to a tenth.
    expect(desktopChildBudget({ preset: 'desktop', stage: 'ldm', parent: { ...parentOf(ae), runDir: aeDir } })?.note).toBe(
      "17.5 min: the LDM's share (15 of 40) of the 46.7 min its autoencoder (run 1, 13.0 min) left of the 60-minute desktop pipeline (less 15 s to finish)",
    );
    const ldmParent = { ...parentOf(ldm, 2), runDir: runWith('ldm-15', 15.25), parentDirs: { autoencoder: aeDir } };
    expect(buildTrainConfig({ stage: 'controlnet', preset: 'desktop', overrides: [], parent: ldmParent }).loop.budgetMinutes).toBe(31.5);
    expect(desktopChildBudget({ preset: 'desktop', stage: 'controlnet', parent: ldmParent })?.note).toBe('31.5 min: what its LDM (run 2) and autoencoder left of the 60-minute desktop pipeline (they trained 28.3 min; less 15 s to finish)');
    // The user's budget wins; a parent that trained longer never shortens the child.
    expect(buildTrainConfig({ stage: 'controlnet', preset: 'desktop', overrides: ['loop.budgetMinutes=10'], parent: ldmParent }).loop.budgetMinutes).toBe(10);
    const longAe = { ...parentOf(ae), runDir: runWith('ae-40', 40) };
    expect(buildTrainConfig({ stage: 'ldm', preset: 'desktop', overrides: [], parent: longAe }).loop.budgetMinutes).toBe(15);
    // A parent without a training summary (imported from a cluster): the stage's own default.
    const unknown = { ...parentOf(ldm, 2), runDir: runWith('ldm-imported', null), parentDirs: { autoencoder: aeDir } };
    expect(buildTrainConfig({ stage: 'controlnet', preset: 'desktop', overrides: [], parent: unknown }).loop.budgetMinutes).toBe(25);
    expect(desktopChildBudget({ preset: 'desktop', stage: 'controlnet', parent: unknown })?.note).toBeNull();
    // The reference preset keeps its fixed epochs.
    const ref = buildTrainConfig({ stage: 'autoencoder', preset: 'reference', overrides: [] });
    expect(buildTrainConfig({ stage: 'ldm', preset: 'reference', overrides: [], parent: { ...parentOf(ref), runDir: aeDir } }).loop.budgetMinutes).toBeNull();
  });

  it('refuses wrong parents, group mismatches and bad loop values with the reason', () => {
    const ae = buildTrainConfig({ stage: 'autoencoder', preset: 'desktop', overrides: [] });
    expect(() => buildTrainConfig({ stage: 'ldm', preset: 'desktop', overrides: [] })).toThrow(/needs a parent autoencoder run/);
    expect(() => buildTrainConfig({ stage: 'autoencoder', preset: 'desktop', overrides: [], parent: parentOf(ae) })).toThrow(/takes no parent/);
    expect(() => buildTrainConfig({ stage: 'ldm', preset: 'desktop', overrides: [], parent: { ...parentOf(ae), status: 'running' } })).toThrow(/still running/);
    expect(() => buildTrainConfig({ stage: 'ldm', preset: 'desktop', overrides: [], parent: { ...parentOf(ae), hasCheckpoint: false } })).toThrow(/has no checkpoint/);
    const sizeless = { ...ae } as Partial<TrainConfig>;
    delete sizeless.imageSize;
    expect(() => buildTrainConfig({ stage: 'ldm', preset: 'desktop', overrides: [], parent: parentOf(sizeless as TrainConfig) })).toThrow(/parent run 1 records no imageSize/);
    expect(() => buildTrainConfig({ stage: 'autoencoder', preset: 'huge' as never, overrides: [] })).toThrow(/unknown preset 'huge'/);
    expect(() => validateTrainConfig(applyOverrides(ae, ['autoencoder.network.norm_num_groups=6']))).toThrow(/autoencoder\.network: .*divisible by norm_num_groups=6/);
    expect(() => validateTrainConfig(applyOverrides(ae, ['loop.batchSize=0']))).toThrow(/loop\.batchSize must be an integer >= 1/);
    expect(() => validateTrainConfig(applyOverrides(ae, ['imageSize=[100,100]']))).toThrow(/imageSize \[100,100\] must be 160x224 divided by one whole factor/);
    expect(() => validateTrainConfig(applyOverrides(ae, ['autoencoder.network.in_channels=3']))).toThrow(/in_channels and out_channels must be 1/);
  });

  it('augmentation: both presets default to the reference tables in every stage', () => {
    for (const preset of ['reference', 'desktop'] as const) {
      const ae = buildTrainConfig({ stage: 'autoencoder', preset, overrides: [] });
      const ldm = buildTrainConfig({ stage: 'ldm', preset, overrides: [], parent: parentOf(ae) });
      const cn = buildTrainConfig({ stage: 'controlnet', preset, overrides: [], parent: parentOf(ldm, 2) });
      expect([ae.augment, ldm.augment, cn.augment]).toEqual(['reference', 'reference', 'reference']);
    }
    const ae = buildTrainConfig({ stage: 'autoencoder', preset: 'desktop', overrides: [] });
    // Any setting is one --set away; older runs' booleans are still accepted; a typo names the choices.
    expect(buildTrainConfig({ stage: 'autoencoder', preset: 'desktop', overrides: ['augment=anatomy'] }).augment).toBe('anatomy');
    expect(() => validateTrainConfig(applyOverrides(ae, ['augment=none']))).not.toThrow();
    expect(() => validateTrainConfig(applyOverrides(ae, ['augment=false']))).not.toThrow();
    expect(() => validateTrainConfig(applyOverrides(ae, ['augment=strong']))).toThrow(/augment must be one of none, reference, anatomy, got "strong"/);
    expect(() => applyOverrides(ae, ['augment=[1]'])).toThrow(/--set augment: expected a string/);
  });

  it('--set overrides meet the same field limits as the form and the API', () => {
    const ae = buildTrainConfig({ stage: 'autoencoder', preset: 'desktop', overrides: [] });
    const cases: [string, RegExp][] = [
      ['loop.epochs=1e308', /loop\.epochs must be at most 100000, got 1e\+308/],
      ['loop.epochs=100001', /loop\.epochs must be at most 100000/],
      ['loop.batchSize=1e9', /loop\.batchSize must be at most 4096/],
      ['loop.seed=1e300', /loop\.seed must be a whole number within ±2\^53/],
      ['loop.checkpointEvery=1e20', /loop\.checkpointEvery must be at most/],
      ['autoencoder.lr=1e999', /autoencoder\.lr must be a positive number/],
      ['autoencoder.advStartEpoch=1e12', /autoencoder\.advStartEpoch must be at most 100000/],
    ];
    for (const [override, pattern] of cases) expect(() => validateTrainConfig(applyOverrides(ae, [override])), override).toThrow(pattern);
    expect(() => validateTrainConfig(applyOverrides(ae, ['loop.epochs=100000']))).not.toThrow();
  });
});

describe('conditioning context', () => {
  it('learned: prompt dropout swaps in the null embedding per sample, both are trainable', () => {
    const ctx = ConditioningContext.learned(3, 4, Rng.fromSeed(1));
    const b = ctx.batch([false, true]);
    expect(b.shape).toEqual([2, 3, 4]);
    const [p, n] = tf.unstack(b);
    expect(Array.from(p!.dataSync())).toEqual(Array.from(ctx.prompt.dataSync()));
    expect(Array.from(n!.dataSync())).toEqual(Array.from(ctx.nullEmbedding.dataSync()));
    expect(Object.keys(ctx.params())).toEqual(['context.prompt', 'context.null']);
    tf.dispose([b, p!, n!]);
    ctx.dispose();
  });

  it('from a precomputed file ([1, T, D] accepted) is frozen; a wrong dim is refused naming the file', () => {
    const path = join(root, 'ctx.safetensors');
    const T = 77;
    const D = 8;
    writeSafetensors(
      path,
      new Map([
        ['prompt', { shape: [1, T, D], data: new Float32Array(T * D).fill(0.5) }],
        ['null', { shape: [1, T, D], data: new Float32Array(T * D) }],
        ['null_infer', { shape: [1, T, D], data: new Float32Array(T * D).fill(-1) }],
      ]),
    );
    const ctx = ConditioningContext.fromFile(path, D);
    expect([ctx.tokens, ctx.dim, ctx.trainable]).toEqual([T, D, false]);
    expect(ctx.params()).toEqual({});
    const inf = ctx.repeat('null_infer', 1);
    expect(inf.dataSync()[0]).toBe(-1);
    inf.dispose();
    ctx.dispose();
    expect(() => ConditioningContext.fromFile(path, 1024)).toThrow(new RegExp(`${path}: "prompt" has dim 8 but the network's cross_attention_dim is 1024`));
    const bad = join(root, 'bad.safetensors');
    writeSafetensors(bad, new Map([['prompt', { shape: [T, D], data: new Float32Array(T * D) }]]));
    expect(() => ConditioningContext.fromFile(bad)).toThrow(/context file has no "null" tensor/);
  });
});

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { forwardCommand } from '../../src/cli/commands/forward';
import { readSafetensors } from '../../src/ml/io';
import { fixturePath, hasShared, relativeL2 } from './fixtures';

const dir = mkdtempSync(join(tmpdir(), 'bs-forward-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = (net: string, weights: string, inputs: string, out: string) => ({
  net: net as never,
  config: fixturePath('manifest.json'),
  weights: fixturePath(weights),
  inputs: fixturePath(inputs),
  out: join(dir, out),
  backend: 'wasm',
  tolerance: '1e-4',
});

/** Every output written by `forward` must match the same-named tensor of the fixture io file. */
function expectMatchesFixture(outFile: string, ioFile: string, names: string[]): void {
  const out = readSafetensors(outFile);
  const io = readSafetensors(fixturePath(ioFile));
  expect([...out.tensors.keys()].sort()).toEqual([...names].sort());
  for (const name of names) {
    const got = out.tensors.get(name)!;
    const want = io.tensors.get(name)!;
    expect(got.shape, name).toEqual(want.shape);
    expect(relativeL2(got.data, want.data), name).toBeLessThan(1e-4);
  }
}

describe.skipIf(!hasShared)('brainsynth forward', () => {
  it('autoencoderkl from the .pth: z_mu, z_sigma, reconstruction', async () => {
    const o = base('autoencoderkl', 'autoencoderkl.weights.pth', 'autoencoderkl.io.safetensors', 'ae.safetensors');
    const { worst } = await forwardCommand(o);
    expect(worst).toBeLessThan(1e-4);
    expectMatchesFixture(o.out, 'autoencoderkl.io.safetensors', ['z_mu', 'z_sigma', 'reconstruction']);
    expect(readSafetensors(o.out).metadata).toMatchObject({ net: 'autoencoderkl', backend: 'wasm' });
  });

  it('diffusion_unet: unet_out, and controlled_unet_out from the residuals in the inputs file', async () => {
    const o = base('diffusion_unet', 'diffusion_unet.weights.safetensors', 'diffusion_unet.io.safetensors', 'unet.safetensors');
    await forwardCommand(o);
    expectMatchesFixture(o.out, 'diffusion_unet.io.safetensors', ['unet_out', 'controlled_unet_out']);
  });

  it('controlnet (training checkpoint .pth) with --unet-weights: residuals, unet_out, controlled_unet_out at the manifest scale', async () => {
    const o = { ...base('controlnet', 'controlnet.checkpoint.pth', 'diffusion_unet.io.safetensors', 'cn.safetensors'), unetWeights: fixturePath('diffusion_unet.weights.safetensors') };
    await forwardCommand(o);
    const names = ['mid_residual', 'unet_out', 'controlled_unet_out', ...Array.from({ length: 9 }, (_, i) => `down_residual_${i}`)];
    expectMatchesFixture(o.out, 'diffusion_unet.io.safetensors', names);
    expect(readSafetensors(o.out).metadata.conditioning_scale).toBe('0.7');
  });

  it('reports the error against expected outputs, so a wrong setting is caught (conditioning scale 1 instead of 0.7)', async () => {
    const o = { ...base('controlnet', 'controlnet.weights.safetensors', 'diffusion_unet.io.safetensors', 'cn1.safetensors'), conditioningScale: '1' };
    const { worst } = await forwardCommand(o);
    expect(worst).toBeGreaterThan(0.1);
  });

  it('patch_discriminator: out_0..out_4 in eval mode', async () => {
    const o = base('patch_discriminator', 'patch_discriminator.weights.safetensors', 'patch_discriminator.io.safetensors', 'd.safetensors');
    await forwardCommand(o);
    expectMatchesFixture(o.out, 'patch_discriminator.io.safetensors', ['out_0', 'out_1', 'out_2', 'out_3', 'out_4']);
  });

  it('runs as a subcommand; wrong weights fail with the file named and the keys listed', () => {
    const cli = resolve(__dirname, '../../bin/brainsynth.mjs');
    const ok = spawnSync(
      process.execPath,
      [cli, 'forward', '--net', 'patch_discriminator', '--config', fixturePath('manifest.json'), '--weights', fixturePath('patch_discriminator.weights.safetensors'),
        '--inputs', fixturePath('patch_discriminator.io.safetensors'), '--out', join(dir, 'cli.safetensors'), '--backend', 'cpu'],
      { encoding: 'utf8' },
    );
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('patch_discriminator forward on cpu: 5 outputs');
    const bad = spawnSync(
      process.execPath,
      [cli, 'forward', '--net', 'patch_discriminator', '--config', fixturePath('manifest.json'), '--weights', fixturePath('autoencoderkl.weights.safetensors'),
        '--inputs', fixturePath('patch_discriminator.io.safetensors'), '--out', join(dir, 'bad.safetensors'), '--backend', 'cpu'],
      { encoding: 'utf8' },
    );
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain(`${fixturePath('autoencoderkl.weights.safetensors')}: cannot load weights`);
    expect(bad.stderr).toMatch(/missing keys \(22\)/);
  });
});

/**
 * Checkpoint and artefact rows, and path fields of run configs, are stored relative to the home:
 * a copied home loads, shows and resumes from its own run files (the original may be gone), a
 * moved home keeps working, and rows of older releases are rewritten by a migration.
 */
import { cpSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBackend } from '../../src/backend';
import { resolveModel } from '../../src/backend/sampling/models';
import { openStore } from '../../src/backend/store';
import { MIGRATIONS } from '../../src/backend/store/migrations';
import { checkpointDir } from '../../src/ml/pipeline/checkpoint';
import { loadPipeline, PIPELINE_FILE, sourcesFromRunDir } from '../../src/ml/pipeline';
import { useTestBackend, writeTinyPipeline } from '../sample/fixtures';
import { tempDir } from './helpers';

const tmp = tempDir('bs-homepaths-runs-');
afterAll(() => tmp.cleanup());
beforeAll(() => useTestBackend());

/** The first 24 bytes of a PNG (signature and IHDR size): enough to tell which file was served. */
function pngHeader(width: number, height: number): Buffer {
  const b = Buffer.alloc(24);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]).copy(b);
  b.writeUInt32BE(width, 16);
  b.writeUInt32BE(height, 20);
  return b;
}

/** The bytes the app's artefact channel serves for an artefact (it reads only inside the runs folder). */
function servedBytes(services: ReturnType<typeof openBackend>, artefactId: number): Buffer {
  return Buffer.from(services.sampling.generate.artefactData(artefactId).dataUrl.split(',')[1]!, 'base64');
}

describe('run files of a moved or copied home', () => {
  it('are read from where the home now is, never from the original', { timeout: 180_000 }, () => {
    const first = join(tmp.dir, 'first');
    let services = openBackend({ home: first });
    const ae = services.runs.create({ stage: 'autoencoder', config: { stage: 'autoencoder' }, status: 'completed' });
    const ldmContext = join(services.home.runDir(ae.id), 'context.safetensors');
    const ldm = services.runs.create({
      stage: 'ldm',
      config: { stage: 'ldm', ldm: { contextFile: ldmContext }, autoencoder: { perceptualNetwork: '/opt/models/vgg/model.json' } },
      status: 'completed',
      parents: [{ runId: ae.id, role: 'autoencoder' }],
    });
    const cn = services.runs.create({ stage: 'controlnet', config: { stage: 'controlnet' }, status: 'completed', parents: [{ runId: ldm.id, role: 'ldm' }] });
    const dirs = { autoencoder: services.home.runDir(ae.id), ldm: services.home.runDir(ldm.id), controlnet: services.home.runDir(cn.id) };
    writeTinyPipeline(dirs);
    const model = join(checkpointDir(dirs.controlnet, 'last')!, 'model.safetensors');
    services.checkpoints.replace(cn.id, ['last'], { path: model, step: 3, epoch: 0, sha256: 'x' });
    mkdirSync(join(dirs.controlnet, 'images'), { recursive: true });
    writeFileSync(join(dirs.controlnet, 'images', 'a.png'), pngHeader(7, 5));
    const image = services.artefacts.add({ runId: cn.id, kind: 'image', path: join(dirs.controlnet, 'images', 'a.png') });
    resolveModel(services, cn.id); // writes pipeline.json

    const raw = services.store.db;
    expect((raw.prepare('SELECT path FROM checkpoints').get() as { path: string }).path).toBe(`runs/${cn.id}/checkpoints/${model.split('/checkpoints/')[1]}`);
    expect((raw.prepare('SELECT path FROM artefacts').get() as { path: string }).path).toBe(`runs/${cn.id}/images/a.png`);
    const storedConfig = JSON.parse((raw.prepare('SELECT config FROM runs WHERE id = ?').get(ldm.id) as { config: string }).config);
    expect(storedConfig.ldm.contextFile).toBe(`runs/${ae.id}/context.safetensors`);
    expect(storedConfig.autoencoder.perceptualNetwork).toBe('/opt/models/vgg/model.json');
    // The API still answers absolute paths.
    expect(services.runs.get(ldm.id).config).toEqual({ stage: 'ldm', ldm: { contextFile: ldmContext }, autoencoder: { perceptualNetwork: '/opt/models/vgg/model.json' } });
    expect(JSON.parse(readFileSync(join(dirs.controlnet, PIPELINE_FILE), 'utf8'))).toEqual({ stage: 'controlnet', ldm: `../${ldm.id}`, autoencoder: `../${ae.id}` });
    services.close();

    const moved = join(tmp.dir, 'moved');
    renameSync(first, moved);
    services = openBackend({ home: moved });
    try {
      expect(services.checkpoints.latest(cn.id)!.path.startsWith(join(moved, 'runs', String(cn.id)))).toBe(true);
      expect(servedBytes(services, image.id)).toEqual(pngHeader(7, 5));
    } finally {
      services.close();
    }

    // A copy, with the original gone: everything it reads is its own.
    const copy = join(tmp.dir, 'copy');
    cpSync(moved, copy, { recursive: true });
    rmSync(moved, { recursive: true });
    services = openBackend({ home: copy });
    try {
      const runDir = (id: number) => join(copy, 'runs', String(id));
      expect(services.checkpoints.list(cn.id).map((c) => c.path)).toEqual([join(runDir(cn.id), 'checkpoints', model.split('/checkpoints/')[1]!)]);
      expect(services.artefacts.list({ runId: cn.id })[0]!.path).toBe(join(runDir(cn.id), 'images', 'a.png'));
      expect(services.artefacts.row(image.id)!.path).toBe(join(runDir(cn.id), 'images', 'a.png'));
      expect(servedBytes(services, image.id)).toEqual(pngHeader(7, 5));
      expect((services.runs.get(ldm.id).config as { ldm: { contextFile: string } }).ldm.contextFile).toBe(join(runDir(ae.id), 'context.safetensors'));
      const { sources } = resolveModel(services, cn.id);
      expect(sources).toMatchObject({ controlnet: runDir(cn.id), ldm: runDir(ldm.id), autoencoder: runDir(ae.id) });
      expect(sourcesFromRunDir(runDir(cn.id))).toMatchObject({ ldm: runDir(ldm.id), autoencoder: runDir(ae.id) });
      const pipeline = loadPipeline(sources);
      pipeline.dispose();
    } finally {
      services.close();
    }
  });

  it('an old pipeline.json naming another home\'s run folders is rewritten to name this home\'s', () => {
    const home = join(tmp.dir, 'stale-pipeline');
    const services = openBackend({ home });
    try {
      const ae = services.runs.create({ stage: 'autoencoder', config: {}, status: 'completed' });
      const ldm = services.runs.create({ stage: 'ldm', config: {}, status: 'completed', parents: [{ runId: ae.id, role: 'autoencoder' }] });
      const cn = services.runs.create({ stage: 'controlnet', config: {}, status: 'completed', parents: [{ runId: ldm.id, role: 'ldm' }] });
      writeTinyPipeline({ autoencoder: services.home.runDir(ae.id), ldm: services.home.runDir(ldm.id), controlnet: services.home.runDir(cn.id) });
      const file = join(services.home.runDir(cn.id), PIPELINE_FILE);
      writeFileSync(file, JSON.stringify({ stage: 'controlnet', ldm: `/original/home/runs/${ldm.id}`, autoencoder: `/original/home/runs/${ae.id}` }));
      resolveModel(services, cn.id);
      expect(sourcesFromRunDir(services.home.runDir(cn.id))).toMatchObject({ ldm: services.home.runDir(ldm.id), autoencoder: services.home.runDir(ae.id) });
    } finally {
      services.close();
    }
  });
});

describe('migration of run rows stored absolute by older releases', () => {
  it('rewrites checkpoint and artefact paths and config path fields inside this home or copied from another', () => {
    const home = join(tmp.dir, 'old-home');
    mkdirSync(join(home, 'runs', '2', 'checkpoints', 'step-00000004'), { recursive: true });
    writeFileSync(join(home, 'runs', '2', 'checkpoints', 'step-00000004', 'model.safetensors'), 'x');
    const dbPath = join(home, 'brainsynth.db');
    const old = openStore(dbPath, { migrations: MIGRATIONS.slice(0, 4) });
    const config = {
      stage: 'ldm',
      ldm: { contextFile: join(home, 'runs', '1', 'ctx.safetensors') },
      autoencoder: { perceptualNetwork: '/opt/vgg/model.json' },
      cluster: { folder: join(home, 'cluster', 'job-1'), jobId: 'j1' },
    };
    old.db.prepare("INSERT INTO runs (id, stage, config) VALUES (1, 'autoencoder', '{}'), (2, 'ldm', ?), (3, 'ldm', 'not json')").run(JSON.stringify(config));
    const ck = old.db.prepare("INSERT INTO checkpoints (run_id, kind, path, step, sha256) VALUES (2, ?, ?, 4, 'x')");
    ck.run('last', join(home, 'runs', '2', 'checkpoints', 'step-00000004', 'model.safetensors'));
    // Copied from another home: this home holds the same file, so the row points here.
    ck.run('best', '/elsewhere/brainsynth-home/runs/2/checkpoints/step-00000004/model.safetensors');
    // Gone from both: left as it was (nothing here to point at).
    ck.run('final', '/elsewhere/brainsynth-home/runs/2/checkpoints/step-00000009/model.safetensors');
    const art = old.db.prepare("INSERT INTO artefacts (run_id, kind, path) VALUES (2, 'image', ?)");
    art.run(join(home, 'runs', '2', 'images', 'a.png'));
    art.run('/data/exports/b.png');
    old.close();

    const store = openStore(dbPath);
    try {
      const ckPaths = Object.fromEntries((store.db.prepare('SELECT kind, path FROM checkpoints').all() as { kind: string; path: string }[]).map((r) => [r.kind, r.path]));
      expect(ckPaths).toEqual({
        last: 'runs/2/checkpoints/step-00000004/model.safetensors',
        best: 'runs/2/checkpoints/step-00000004/model.safetensors',
        final: '/elsewhere/brainsynth-home/runs/2/checkpoints/step-00000009/model.safetensors',
      });
      expect((store.db.prepare('SELECT path FROM artefacts ORDER BY id').all() as { path: string }[]).map((r) => r.path)).toEqual(['runs/2/images/a.png', '/data/exports/b.png']);
      const migrated = JSON.parse((store.db.prepare('SELECT config FROM runs WHERE id = 2').get() as { config: string }).config);
      expect(migrated).toEqual({
        stage: 'ldm',
        ldm: { contextFile: 'runs/1/ctx.safetensors' },
        autoencoder: { perceptualNetwork: '/opt/vgg/model.json' },
        cluster: { folder: 'cluster/job-1', jobId: 'j1' },
      });
      expect((store.db.prepare('SELECT config FROM runs WHERE id = 3').get() as { config: string }).config).toBe('not json');
    } finally {
      store.close();
    }
  });
});

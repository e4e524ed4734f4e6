import { execFileSync } from 'node:child_process';
/**
 * 'generate.artefactData': the renderer's only way to show a stored artefact (evaluation image
 * triples, saved Generate panels, volumes). Files are found by artefact id, never by a path in
 * the request, and only files inside the home's runs folder are served.
 */
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDispatch, createHandlers } from '../../src/backend/api/handlers';
import { openBackend, type Services } from '../../src/backend';
import { encodePng } from '../../src/ml/io/png';

let root: string;
let runDir: string;
let services: Services;
let dispatch: ReturnType<typeof createDispatch>;
let runId: number;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'bs-artefact-image-'));
  services = openBackend({ home: join(root, 'home') });
  dispatch = createDispatch(createHandlers({ services, host: 'test' }));
  runId = services.runs.create({ stage: 'evaluation', config: {} }).id;
  runDir = join(services.home.runsDir, String(runId));
  mkdirSync(runDir, { recursive: true });
});

afterAll(() => {
  services?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

function addArtefact(path: string): number {
  return services.artefacts.add({ runId, kind: 'image', path }).id;
}

type Data = { artefactId: number; mime: string; fileName: string; dataUrl: string };

describe('generate.artefactData', () => {
  it('answers a stored PNG as a data URL, byte for byte', async () => {
    const data = new Float32Array(6 * 4).map((_, i) => i / 24);
    const png = encodePng({ width: 6, height: 4, data });
    const path = join(runDir, 'triple.png');
    writeFileSync(path, png);
    const id = addArtefact(path);
    const r = await dispatch('generate.artefactData', { artefactId: id });
    expect(r.ok, JSON.stringify(r)).toBe(true);
    const file = (r as { data: Data }).data;
    expect(file).toMatchObject({ artefactId: id, mime: 'image/png', fileName: 'triple.png' });
    expect(Buffer.from(file.dataUrl.replace(/^data:image\/png;base64,/, ''), 'base64').equals(png)).toBe(true);
  });

  it('refuses unknown ids, missing files and files outside the runs folder, naming the artefact', async () => {
    const unknown = await dispatch('generate.artefactData', { artefactId: 99_999 });
    expect(unknown).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
    expect((unknown as { error: { message: string } }).error.message).toContain('artefact 99999 does not exist');

    const gone = join(runDir, 'gone.png');
    writeFileSync(gone, encodePng({ width: 2, height: 2, data: new Float32Array(4) }));
    const goneId = addArtefact(gone);
    unlinkSync(gone);
    const missing = await dispatch('generate.artefactData', { artefactId: goneId });
    expect(missing).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
    expect((missing as { error: { message: string } }).error.message).toContain(`artefact ${goneId}: ${gone} no longer exists`);

    const outside = join(root, 'outside.png');
    writeFileSync(outside, encodePng({ width: 2, height: 2, data: new Float32Array(4) }));
    const refused = await dispatch('generate.artefactData', { artefactId: addArtefact(outside) });
    expect((refused as { error: { message: string } }).error.message).toContain('is not a file of a run in this home');
  });

  it('refuses a named pipe put where a PNG was, without waiting for a writer', { timeout: 15_000 }, async () => {
    const pipe = join(runDir, 'pipe.png');
    execFileSync('mkfifo', [pipe]);
    const res = await dispatch('generate.artefactData', { artefactId: addArtefact(pipe) });
    expect(res).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
    expect((res as { error: { message: string } }).error.message).toContain('not a regular file (a named pipe)');
  });
});

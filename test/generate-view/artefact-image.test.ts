import { execFileSync } from 'node:child_process';
/**
 * 'artefacts.image': the renderer's only way to show a stored PNG (evaluation image triples,
 * saved Generate panels). Files are found by artefact id, never by a path in the request.
 */
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDispatch, createHandlers } from '../../src/backend/api/handlers';
import { openBackend, type Services } from '../../src/backend';
import { encodePng } from '../../src/ml/io/png';

let root: string;
let services: Services;
let dispatch: ReturnType<typeof createDispatch>;
let runId: number;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'bs-artefact-image-'));
  services = openBackend({ home: join(root, 'home') });
  dispatch = createDispatch(createHandlers({ services, host: 'test' }));
  runId = services.runs.create({ stage: 'evaluation', config: {} }).id;
});

afterAll(() => {
  services?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

function addArtefact(path: string): number {
  return services.artefacts.add({ runId, kind: 'image', path }).id;
}

describe('artefacts.image', () => {
  it('answers a stored PNG as a data URL with its size, byte for byte', async () => {
    const data = new Float32Array(6 * 4).map((_, i) => i / 24);
    const png = encodePng({ width: 6, height: 4, data });
    const path = join(root, 'triple.png');
    writeFileSync(path, png);
    const id = addArtefact(path);
    const r = await dispatch('artefacts.image', { id });
    expect(r.ok, JSON.stringify(r)).toBe(true);
    const image = (r as { data: { id: number; width: number; height: number; dataUrl: string } }).data;
    expect(image).toMatchObject({ id, width: 6, height: 4 });
    expect(Buffer.from(image.dataUrl.replace(/^data:image\/png;base64,/, ''), 'base64').equals(png)).toBe(true);
  });

  it('refuses unknown ids, non-PNG artefacts and missing files, naming the artefact', async () => {
    const unknown = await dispatch('artefacts.image', { id: 99_999 });
    expect(unknown).toMatchObject({ ok: false, error: { code: 'not_found', message: 'artefacts.image: artefact 99999 does not exist' } });

    const jsonPath = join(root, 'evaluation.json');
    writeFileSync(jsonPath, '{}');
    const json = await dispatch('artefacts.image', { id: addArtefact(jsonPath) });
    expect(json).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
    expect((json as { error: { message: string } }).error.message).toMatch(/evaluation\.json\) is not a PNG image/);

    const fake = join(root, 'fake.png');
    writeFileSync(fake, 'not a png at all, just text');
    const notPng = await dispatch('artefacts.image', { id: addArtefact(fake) });
    expect((notPng as { error: { message: string } }).error.message).toBe(`artefacts.image: ${fake}: not a PNG file`);

    const gone = join(root, 'gone.png');
    writeFileSync(gone, encodePng({ width: 2, height: 2, data: new Float32Array(4) }));
    const goneId = addArtefact(gone);
    unlinkSync(gone);
    const missing = await dispatch('artefacts.image', { id: goneId });
    expect(missing).toMatchObject({ ok: false, error: { code: 'not_found' } });
    expect((missing as { error: { message: string } }).error.message).toContain(`the file of artefact ${goneId} is missing`);
  });

  it('refuses a named pipe put where a PNG was, without waiting for a writer', { timeout: 15_000 }, async () => {
    const pipe = join(root, 'pipe.png');
    execFileSync('mkfifo', [pipe]);
    const res = await dispatch('artefacts.image', { id: addArtefact(pipe) });
    expect(res).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
    expect((res as { error: { message: string } }).error.message).toContain('not a regular file (a named pipe)');
  });
});

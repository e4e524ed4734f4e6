import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempHome } from '../store/helpers';

const bin = resolve(__dirname, '../../bin/brainsynth.mjs');
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function serve(args: string[]) {
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, BRAINSYNTH_HOME: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += String(d)));
  child.stderr.on('data', (d) => (stderr += String(d)));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  const listening = new Promise<string>((done, fail) => {
    child.stdout.on('data', () => {
      const m = /^brainsynth serve: listening on (\S+)$/m.exec(stdout);
      if (m) done(m[1]!);
    });
    void exited.then((code) => fail(new Error(`serve exited ${code}: ${stderr}`)));
  });
  listening.catch(() => undefined); // the exit test never waits for it
  cleanups.push(() => child.kill('SIGKILL'));
  return { child, listening, exited, output: () => ({ stdout, stderr }) };
}

describe('brainsynth serve', () => {
  it('prints its URL on its own line, answers the API with the token, and stops on SIGTERM', async () => {
    const home = tempHome();
    cleanups.push(home.cleanup);
    const s = serve(['--home', home.dir, 'serve', '--api-only', '--port', '0']);
    const url = new URL(await s.listening);
    expect(url.hostname).toBe('127.0.0.1');
    const token = url.searchParams.get('token')!;
    expect(token.length).toBeGreaterThanOrEqual(40);
    const call = (channel: string, body: unknown, auth = token) =>
      fetch(`${url.origin}/api/invoke/${channel}`, { method: 'POST', headers: { Authorization: `Bearer ${auth}` }, body: JSON.stringify(body) });
    const created = await (await call('runs.create', { stage: 'ldm', name: 'via http' })).json();
    expect(created).toMatchObject({ ok: true, data: { stage: 'ldm', name: 'via http' } });
    expect((await call('runs.list', {}, 'wrong')).status).toBe(401);
    const info = (await (await call('app.info', {})).json()) as { data: unknown };
    expect(info.data).toMatchObject({ host: 'bridge', home: home.dir, dbPath: join(home.dir, 'brainsynth.db') });
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });

  it('explains how to build the renderer when it is missing', async () => {
    const home = tempHome();
    cleanups.push(home.cleanup);
    const s = serve(['--home', home.dir, 'serve', '--renderer', join(home.dir, 'nowhere')]);
    expect(await s.exited).not.toBe(0);
    expect(s.output().stderr).toMatch(/the renderer is not built \(.*nowhere\/index\.html is missing\): run `npx electron-vite build` first/);
  });
});

import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openBackend } from '../../src/backend';
import { tempHome } from './helpers';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('crash safety', () => {
  it('kill -9 in the middle of a metric burst loses no committed row and leaves an intact database', async () => {
    const home = tempHome();
    cleanups.push(home.cleanup);
    const services = openBackend({ home: home.dir });
    const run = services.runs.create({ stage: 'ldm' });
    services.close();
    const dbPath = join(home.dir, 'brainsynth.db');
    const batch = 500;

    const child = spawn(process.execPath, ['--import', 'tsx', resolve(__dirname, 'fixtures/metric-burst.ts'), dbPath, String(run.id), String(batch)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let lastCommitted = -1;
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const killed = new Promise<void>((done, fail) => {
      let buffer = '';
      child.stdout.on('data', (chunk) => {
        buffer += String(chunk);
        const lines = buffer.split('\n');
        buffer = lines.pop()!;
        for (const line of lines) {
          const m = /^committed (\d+)$/.exec(line);
          if (m) lastCommitted = Number(m[1]);
        }
        // Wait for a good number of commits so the kill lands mid-burst, not at start-up.
        if (lastCommitted >= 40 * batch && !child.killed) child.kill('SIGKILL');
      });
      child.on('exit', (code, signal) => (signal === 'SIGKILL' ? done() : fail(new Error(`child exited ${code}: ${stderr}`))));
    });
    await killed;

    const db = new Database(dbPath);
    cleanups.unshift(() => db.close());
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const { n, maxStep } = db.prepare('SELECT count(*) AS n, max(step) AS maxStep FROM metrics WHERE run_id = ?').get(run.id) as {
      n: number;
      maxStep: number;
    };
    // Every batch reported as committed is there, and batches are whole (no torn transaction).
    expect(maxStep).toBeGreaterThanOrEqual(lastCommitted);
    expect(n).toBe(maxStep + 1);
    expect(n % batch).toBe(0);
  });
});

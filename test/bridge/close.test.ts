import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempHome } from '../store/helpers';

let home: ReturnType<typeof tempHome> | null = null;
afterEach(() => {
  home?.cleanup();
  home = null;
});

/** Runs close-child.ts; resolves with its exit status, or 'hung' if it outlives `limitMs`. */
function runChild(homeDir: string, limitMs: number): Promise<{ status: number | 'hung'; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', resolve('test/bridge/close-child.ts'), homeDir]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      done({ status: 'hung', stdout, stderr });
    }, limitMs);
    child.on('exit', (status) => {
      clearTimeout(timer);
      done({ status: status ?? -1, stdout, stderr });
    });
  });
}

describe('bridge close', () => {
  it('releases the sampling worker it owns: the process exits by itself, the running job recorded as failed', async () => {
    home = tempHome();
    // Generous for a cold tsx start on shared CPUs; a leftover worker would keep it alive forever.
    const r = await runChild(join(home.dir, 'home'), 30_000);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toEqual({ state: 'failed', error: 'the application closed while the job ran' });
  }, 40_000);
});

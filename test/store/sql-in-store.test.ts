/**
 * All SQL of the back end lives in src/backend/store: services, jobs, handlers and the bridge call
 * its repositories. This scans every other back-end source file for prepared statements and SQL.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..', '..');
const backend = join(root, 'src', 'backend');
const store = join(backend, 'store');

const SQL_PATTERNS: readonly RegExp[] = [
  /\.(prepare|pragma)\(/,
  /\b(SELECT|INSERT INTO|INSERT OR|DELETE FROM|CREATE TABLE|ALTER TABLE|DROP TABLE)\b/,
  /\bUPDATE [a-z_]+ SET\b/,
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return path === store ? [] : sourceFiles(path);
    return /\.(ts|mts|mjs|js)$/.test(e.name) ? [path] : [];
  });
}

/** "file:line: text" for each line holding SQL. */
function sqlLines(file: string, text: string): string[] {
  return text.split('\n').flatMap((line, i) => (SQL_PATTERNS.some((p) => p.test(line)) ? [`${file}:${i + 1}: ${line.trim()}`] : []));
}

describe('SQL stays in src/backend/store', () => {
  it('finds statements and SQL keywords (the detector works)', () => {
    expect(sqlLines('probe.ts', "const row = db.prepare('SELECT 1 FROM runs WHERE id = ?').get(id);")).toHaveLength(1);
    expect(sqlLines('probe.ts', "db.exec(`DELETE FROM metrics WHERE run_id = ${id}`);")).toHaveLength(1);
    expect(sqlLines('probe.ts', "const sql = 'UPDATE runs SET name = ?';")).toHaveLength(1);
    expect(sqlLines('probe.ts', "const m = /^(\\d+)$/.exec(name); // select a run, then update it")).toEqual([]);
  });

  it('no back-end file outside store/ prepares a statement or holds SQL', () => {
    const files = sourceFiles(backend);
    expect(files.length).toBeGreaterThan(20);
    const found = files.flatMap((f) => sqlLines(relative(root, f), readFileSync(f, 'utf8')));
    expect(found).toEqual([]);
  });
});

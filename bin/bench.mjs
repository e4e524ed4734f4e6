#!/usr/bin/env node
// Benchmark harness. `npm run bench` runs every bench/<name>.ts; `npm run bench -- store` runs
// one. Each runs in its own Node process (tsx loader) so benches cannot skew each other, prints
// a table and writes bench/results/<name>.json (with machine details, for comparing runs).
//
// A bench module exports `default async function (): Promise<{ description?, results: [...] }>`,
// each result `{ case, value, unit, target?: { op: '>=' | '<=', value }, detail? }`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const benchDir = join(root, 'bench');
const resultsDir = join(benchDir, 'results');

function available() {
  return readdirSync(benchDir)
    .filter((f) => f.endsWith('.ts') && !f.startsWith('_') && !f.endsWith('.d.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
}

function writeAtomic(path, text) {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  const fd = openSync(tmp, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, path);
}

function gitCommit() {
  const r = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function passOf(r) {
  if (!r.target) return null;
  return r.target.op === '>=' ? r.value >= r.target.value : r.value <= r.target.value;
}

function fmt(v) {
  if (!Number.isFinite(v)) return String(v);
  const abs = Math.abs(v);
  if (abs >= 1000) return Math.round(v).toLocaleString('en-US');
  return Number(v.toPrecision(4)).toString();
}

function printTable(name, results) {
  const rows = results.map((r) => [
    r.case,
    fmt(r.value),
    r.unit,
    r.target ? `${r.target.op} ${fmt(r.target.value)}` : '',
    r.pass === null ? '' : r.pass ? 'ok' : 'BELOW TARGET',
  ]);
  const head = ['case', 'value', 'unit', 'target', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (i === 1 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  process.stdout.write(`\n== bench ${name} ==\n${line(head)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}\n`);
}

async function child(name) {
  const { register } = await import('tsx/esm/api');
  register();
  const mod = await import(pathToFileURL(join(benchDir, `${name}.ts`)).href);
  if (typeof mod.default !== 'function') throw new Error(`bench/${name}.ts must export a default async function`);
  const started = Date.now();
  const out = await mod.default();
  const results = (out.results ?? []).map((r) => ({ ...r, pass: passOf(r) }));
  const record = {
    name,
    description: out.description ?? null,
    date: new Date().toISOString(),
    durationSeconds: (Date.now() - started) / 1000,
    commit: gitCommit(),
    machine: { platform: `${platform()} ${release()}`, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), loadAverage: loadavg().map((l) => Number(l.toFixed(2))), node: process.version },
    results,
  };
  const file = join(resultsDir, `${name}.json`);
  writeAtomic(file, JSON.stringify(record, null, 2) + '\n');
  printTable(name, results);
  process.stdout.write(`(written to ${file}; load average ${record.machine.loadAverage.join(' ')})\n`);
}

async function main() {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return child(argv[1]);
  const names = available();
  const wanted = argv.length ? argv : names;
  const unknown = wanted.filter((n) => !names.includes(n));
  if (unknown.length) {
    process.stderr.write(`bench: no bench/${unknown[0]}.ts (available: ${names.join(', ') || 'none'})\n`);
    process.exit(2);
  }
  let failed = 0;
  for (const name of wanted) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', name], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) {
      failed++;
      process.stderr.write(`bench: ${name} failed (exit ${r.status ?? r.signal})\n`);
    }
  }
  process.exit(failed ? 1 : 0);
}

await main();

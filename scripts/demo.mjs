#!/usr/bin/env node
// The main job on the embedded default data, end to end and headless:
// synthetic phantom -> prepared slices -> autoencoder -> LDM -> ControlNet -> evaluation on the
// test split -> whole-volume FLAIR->T1w translation. Needs nothing outside this repository.
// Usage: npm run demo [-- --home DIR] [-- --quick] [-- --budget 20m]   (BRAINSYNTH_HOME is honoured too)
// --budget trains the three stages by time (shared 15:20:25 like the desktop defaults, each until
// its share or a validation plateau) instead of the fixed epochs below.
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const homeIdx = args.indexOf('--home');
const home = homeIdx >= 0 ? resolve(args[homeIdx + 1]) : process.env.BRAINSYNTH_HOME;
const homeArgs = home ? ['--home', home] : [];
const budgetIdx = args.indexOf('--budget');
const budgetMinutes = budgetIdx >= 0 ? parseMinutes(args[budgetIdx + 1]) : null;
/** Each stage's share of the budget (as in the desktop defaults), or its fixed epochs. */
const length = (stage, epochs) => {
  if (budgetMinutes === null) return ['--epochs', String(epochs)];
  const share = { ae: 15, ldm: 20, cn: 25 }[stage] / 60;
  return ['--budget', `${Math.max(0.1, budgetMinutes * share).toFixed(2)}m`];
};

// Epochs chosen so the full demo takes minutes on a 2-core laptop; --quick is a smoke run.
const plan = quick
  ? { subjects: 3, ae: 1, ldm: 1, cn: 1, steps: 10, limit: 4, translateSteps: 5 }
  : { subjects: 5, ae: 3, ldm: 4, cn: 4, steps: 25, limit: 12, translateSteps: 10 };

function cli(step, cliArgs, { json = false } = {}) {
  const full = [join(root, 'bin/brainsynth.mjs'), ...homeArgs, ...cliArgs, ...(json ? ['--json'] : [])];
  process.stdout.write(`\n== ${step}: brainsynth ${[...homeArgs, ...cliArgs].join(' ')}\n`);
  const t0 = Date.now();
  const res = spawnSync(process.execPath, full, {
    cwd: root,
    stdio: json ? ['ignore', 'pipe', 'inherit'] : 'inherit',
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (res.status !== 0) {
    process.stderr.write(`demo: step "${step}" failed (exit ${res.status})\n`);
    if (json && res.stdout) process.stderr.write(res.stdout);
    process.exit(res.status ?? 1);
  }
  process.stdout.write(`   (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
  return json ? JSON.parse(res.stdout) : null;
}

const name = `phantom-demo-${Date.now().toString(36)}`;
cli('phantom', ['data', 'phantom', '--subjects', String(plan.subjects), '--name', name]);
const prepared = cli('prepare', ['data', 'prepare', '--dataset', name, '--slices', 'brain-band', '--split', '0.6,0.2,0.2', '--seed', '0'], { json: true });
const datasetId = String(prepared.dataset.id);
const ae = cli('autoencoder', ['train', '--stage', 'autoencoder', '--dataset', datasetId, '--preset', 'desktop', ...length('ae', plan.ae)], { json: true });
const aeId = runId(ae);
const ldm = cli('ldm', ['train', '--stage', 'ldm', '--dataset', datasetId, '--preset', 'desktop', '--parent', String(aeId), ...length('ldm', plan.ldm)], { json: true });
const ldmId = runId(ldm);
const cn = cli('controlnet', ['train', '--stage', 'controlnet', '--dataset', datasetId, '--preset', 'desktop', '--parent', String(ldmId), ...length('cn', plan.cn)], { json: true });
const cnId = runId(cn);
cli('evaluate', ['evaluate', '--run', String(cnId), '--split', 'test', '--steps', String(plan.steps), '--limit', String(plan.limit)]);

const dataset = cli('dataset', ['data', 'show', '--dataset', name], { json: true });
const flair = findTestFlair(dataset);
if (flair) {
  const outDir = join(home ?? join(root, '.brainsynth-demo'), 'demo-output');
  mkdirSync(outDir, { recursive: true });
  cli('translate', ['translate', '--run', String(cnId), '--flair', flair, '--out', join(outDir, 'T1w_synth.nii.gz'), '--steps', String(plan.translateSteps)]);
}

// The last line is a command to paste: the app opened on this demo's home.
process.stdout.write(
  `\nDemo finished: autoencoder run ${aeId}, LDM run ${ldmId}, ControlNet run ${cnId} on the SYNTHETIC PHANTOM dataset "${name}".\n` +
    `Browse them in the app:\n` +
    `${home ? `BRAINSYNTH_HOME=${shellQuote(home)} ` : ''}npm start\n`,
);

function shellQuote(text) {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** "20m", "1h", "90s" or a bare number of minutes. */
function parseMinutes(text) {
  const m = /^(\d+(?:\.\d+)?)(h|m|s)?$/.exec(String(text ?? '').trim());
  if (!m || !(Number(m[1]) > 0)) {
    process.stderr.write(`demo: --budget ${text}: expected a duration such as 20m, 1h or 90s\n`);
    process.exit(2);
  }
  return Number(m[1]) * (m[2] === 'h' ? 60 : m[2] === 's' ? 1 / 60 : 1);
}

function runId(result) {
  const id = result?.run?.id ?? result?.id ?? result?.runId;
  if (typeof id !== 'number') {
    process.stderr.write(`demo: could not read the run id from ${JSON.stringify(result).slice(0, 300)}\n`);
    process.exit(1);
  }
  return id;
}

function findTestFlair(ds) {
  const subjects = ds?.subjects ?? ds?.dataset?.subjects ?? [];
  const test = subjects.find((s) => s.split === 'test') ?? subjects[0];
  const vol = test?.volumes?.find((v) => v.modality === 'FLAIR');
  return vol?.path ?? null;
}

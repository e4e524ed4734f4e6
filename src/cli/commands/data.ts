/**
 * `brainsynth data ...`: import, phantom, fetch open-ms, prepare, export-png, list, show, delete.
 * Thin wrappers over src/backend/data/datasets.ts; long steps show a cli-progress bar on a TTY.
 */
import { Argument, Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { openBackend, type Services } from '../../backend';
import {
  createPhantomDataset,
  deleteDataset,
  exportDatasetPng,
  fetchOpenMsDataset,
  getDatasetDetail,
  importDataset,
  listDatasets,
  prepareDataset,
  OPEN_MS_DEFAULT_NAME,
  type DatasetSummary,
} from '../../backend/data/datasets';
import { parseSplitFractions, type SplitName } from '../../ml/data/split';
import { OPEN_MS_DEFAULT_BASE_URL } from '../../ml/data/download';

function withServices<T>(cmd: Command, fn: (s: Services) => Promise<T>): Promise<T> {
  const home = (cmd.optsWithGlobals() as { home?: string }).home;
  const services = openBackend(home !== undefined ? { home } : {});
  return fn(services).finally(() => services.close());
}

/** A progress bar on stderr; silent (no-op) when stderr is not a terminal. */
function progressBar(label: string) {
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total} {item}`, stream: process.stderr, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done: number, total: number, item = '') {
      if (!process.stderr.isTTY) return;
      if (!started) {
        bar.start(total, done, { item });
        started = true;
      }
      bar.setTotal(total);
      bar.update(done, { item });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

function summaryLine(d: DatasetSummary): string {
  const prepared = d.prepared
    ? `prepared ${d.prepared.slices}/${d.prepared.normalisation}: train ${d.prepared.counts.train}, validation ${d.prepared.counts.validation}, test ${d.prepared.counts.test} slices`
    : 'not prepared';
  return `${d.id}\t${d.name}\t${d.kind}${d.synthetic ? ' (SYNTHETIC)' : ''}\t${d.subjectCount} subjects\t${d.grid ?? '?'}\t${prepared}`;
}

function printDataset(d: DatasetSummary): void {
  process.stdout.write(`dataset ${d.id} "${d.name}": ${d.subjectCount} subjects, ${d.volumeCount} volumes, grid ${d.grid ?? 'unknown'}\n`);
  if (d.attribution) process.stdout.write(`attribution: ${d.attribution}\n`);
  for (const w of d.warnings) process.stdout.write(`note: ${w}\n`);
}

function parseList(text: string | undefined): string[] {
  return (text ?? '')
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

export function register(program: Command): void {
  const data = program.command('data').description('MRI datasets: import, phantom, download, prepare slices, export');

  data
    .command('import')
    .description('import a BIDS-like folder (sub-*/[ses-*/]anat/*_FLAIR.nii[.gz] + *_T1w.nii[.gz]); all or nothing')
    .argument('<dir>', 'dataset folder')
    .requiredOption('--name <name>', 'dataset name')
    .option('--attribution <text>', 'licence / citation shown wherever the images are shown')
    .action(async (dir: string, opts: { name: string; attribution?: string }, cmd: Command) => {
      await withServices(cmd, async (s) => {
        const bar = progressBar('checking');
        try {
          const d = await importDataset(s.store, {
            name: opts.name,
            dir,
            ...(opts.attribution ? { attribution: opts.attribution } : {}),
            onProgress: (done, total, file) => bar.update(done, total, file),
          });
          bar.stop();
          printDataset(d);
        } finally {
          bar.stop();
        }
      });
    });

  data
    .command('phantom')
    .description('generate a SYNTHETIC PHANTOM dataset on the MNI 1 mm grid and import it')
    .requiredOption('--subjects <k>', 'number of subjects', (v) => Number.parseInt(v, 10))
    .requiredOption('--name <name>', 'dataset name')
    .option('--seed <s>', 'generator seed', (v) => Number.parseInt(v, 10), 0)
    .action(async (opts: { subjects: number; name: string; seed: number }, cmd: Command) => {
      await withServices(cmd, async (s) => {
        const bar = progressBar('phantom');
        try {
          const d = await createPhantomDataset(s.store, s.home, {
            name: opts.name,
            subjects: opts.subjects,
            seed: opts.seed,
            onProgress: (stage, done, total) => bar.update(done, total, stage),
          });
          bar.stop();
          printDataset(d);
        } finally {
          bar.stop();
        }
      });
    });

  data
    .command('fetch')
    .description('download a public dataset and import it (open-ms: 30 MS patients in MNI space, CC BY, Lesjak et al. 2017)')
    .addArgument(new Argument('<source>', 'dataset to fetch').choices(['open-ms']))
    .option('--base-url <url>', 'where cross_sectional/MNI is served', OPEN_MS_DEFAULT_BASE_URL)
    .option('--subjects <list>', 'patients to fetch, e.g. patient07,patient19 (default all 30)')
    .option('--name <name>', 'dataset name', OPEN_MS_DEFAULT_NAME)
    .option('--manifest <file>', 'JSON {"files":[{"remote","size","sha256"}]} with known sizes/checksums')
    .action(async (_source: string, opts: { baseUrl: string; subjects?: string; name: string; manifest?: string }, cmd: Command) => {
      await withServices(cmd, async (s) => {
        const bar = progressBar('download');
        try {
          const d = await fetchOpenMsDataset(s.store, s.home, {
            name: opts.name,
            baseUrl: opts.baseUrl,
            subjects: parseList(opts.subjects),
            ...(opts.manifest ? { manifestPath: opts.manifest } : {}),
            onProgress: (p) => bar.update(p.fileIndex, p.files, `${p.file} ${(p.received / 1e6).toFixed(1)}${p.total ? `/${(p.total / 1e6).toFixed(1)}` : ''} MB`),
            onFile: (e, r) => {
              if (!process.stderr.isTTY) process.stderr.write(`${e.local}: ${r.bytes} bytes sha256 ${r.sha256}${r.resumed ? ' (resumed)' : ''}\n`);
            },
            onImport: (done, total) => bar.update(done, total, 'checking'),
          });
          bar.stop();
          printDataset(d);
        } finally {
          bar.stop();
        }
      });
    });

  data
    .command('prepare')
    .description('extract normalised 160x224 axial slice pairs into the dataset cache and assign subject splits')
    .requiredOption('--dataset <name>', 'dataset name or id')
    .option('--slices <preset>', 'reference | brain-band[:fraction] | A:B (z A..B-1)', 'brain-band')
    .option('--split <fractions>', 'train,validation,test fractions', '0.8,0.1,0.1')
    .option('--seed <s>', 'split seed', (v) => Number.parseInt(v, 10), 0)
    .addOption(
      new Option(
        '--normalisation <method>',
        'percentile (0.5/99.5 of the brain signal; the default for a dataset prepared for the first time) or minmax (the reference project\'s scaling, per volume over the block, for comparisons with its published numbers); re-preparing keeps the earlier choice',
      ).choices(['minmax', 'percentile']),
    )
    .option('--percentiles <lo,hi>', 'percentiles for percentile normalisation (default 0.5,99.5)')
    .option('--test-subjects <list>', 'subjects pinned to the test split, e.g. patient19')
    .option('--validation-subjects <list>', 'subjects pinned to the validation split')
    .option('--train-subjects <list>', 'subjects pinned to the train split')
    .option('--json', 'print the result as JSON')
    .action(
      async (
        opts: {
          dataset: string;
          slices: string;
          split: string;
          seed: number;
          normalisation?: 'minmax' | 'percentile';
          percentiles?: string;
          testSubjects?: string;
          validationSubjects?: string;
          trainSubjects?: string;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        const pinned: Record<string, SplitName> = {};
        for (const [list, split] of [
          [opts.trainSubjects, 'train'],
          [opts.validationSubjects, 'validation'],
          [opts.testSubjects, 'test'],
        ] as const) {
          for (const subject of parseList(list)) pinned[subject] = split;
        }
        const percentiles = (opts.percentiles ?? '0.5,99.5').split(',').map(Number);
        if (percentiles.length !== 2 || !(percentiles[0]! >= 0 && percentiles[0]! < percentiles[1]! && percentiles[1]! <= 100)) {
          throw new Error(`--percentiles ${opts.percentiles}: expected two numbers lo,hi with 0 <= lo < hi <= 100`);
        }
        await withServices(cmd, async (s) => {
          const bar = progressBar('prepare');
          try {
            const r = await prepareDataset(s.store, s.home, opts.dataset, {
              slices: opts.slices,
              fractions: parseSplitFractions(opts.split),
              seed: opts.seed,
              ...(opts.normalisation ? { normalisation: opts.normalisation } : {}),
              ...(opts.normalisation === 'percentile' || opts.percentiles !== undefined ? { percentiles: percentiles as [number, number] } : {}),
              pinned,
              onProgress: (done, total, subject) => bar.update(done, total, subject),
            });
            bar.stop();
            if (opts.json) {
              process.stdout.write(`${JSON.stringify({ dataset: r.dataset, cacheDir: r.cacheDir, counts: r.index.counts, subjects: r.index.subjects }, null, 2)}\n`);
              return;
            }
            const p = r.dataset.prepared!;
            process.stdout.write(`prepared "${r.dataset.name}" (${p.slices}, ${p.normalisation}) -> ${r.cacheDir}\n`);
            for (const sub of r.index.subjects) process.stdout.write(`  ${sub.subject}${sub.session ? `/${sub.session}` : ''}\t${sub.split}\t${sub.slices} slices\n`);
            process.stdout.write(`slices: train ${p.counts.train}, validation ${p.counts.validation}, test ${p.counts.test}\n`);
          } finally {
            bar.stop();
          }
        });
      },
    );

  data
    .command('export-png')
    .description("write the reference's PNG + TSV layout (8-bit 224x160 PNGs, train/validation/test.tsv)")
    .requiredOption('--dataset <name>', 'dataset name or id')
    .requiredOption('--out <dir>', 'output folder')
    .action(async (opts: { dataset: string; out: string }, cmd: Command) => {
      await withServices(cmd, async (s) => {
        const bar = progressBar('export');
        try {
          const r = await exportDatasetPng(s.store, opts.dataset, opts.out, { onProgress: (d, t, subject) => bar.update(d, t, subject) });
          bar.stop();
          process.stdout.write(`wrote ${r.files} PNGs to ${r.outDir}; rows: train ${r.rows.train}, validation ${r.rows.validation}, test ${r.rows.test}\n`);
        } finally {
          bar.stop();
        }
      });
    });

  data
    .command('list')
    .description('list datasets')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withServices(cmd, async (s) => {
        const all = listDatasets(s.store.db);
        if (opts.json) process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
        else if (all.length === 0) process.stdout.write('no datasets (data import, data phantom or data fetch open-ms)\n');
        else for (const d of all) process.stdout.write(`${summaryLine(d)}\n`);
      });
    });

  data
    .command('show')
    .description('one dataset with its subjects, splits and volumes')
    .requiredOption('--dataset <name>', 'dataset name or id')
    .option('--json', 'print JSON')
    .action(async (opts: { dataset: string; json?: boolean }, cmd: Command) => {
      await withServices(cmd, async (s) => {
        const d = getDatasetDetail(s.store.db, opts.dataset);
        if (opts.json) {
          process.stdout.write(`${JSON.stringify(d, null, 2)}\n`);
          return;
        }
        printDataset(d);
        for (const sub of d.subjects) {
          process.stdout.write(`  ${sub.label}${sub.session ? `/${sub.session}` : ''}\t${sub.split ?? '-'}\t${sub.volumes.map((v) => v.modality).join(', ')}\n`);
        }
      });
    });

  data
    .command('delete')
    .description("delete a dataset's records and its home/datasets/<id> folder (imported source files are kept)")
    .requiredOption('--dataset <name>', 'dataset name or id')
    .action(async (opts: { dataset: string }, cmd: Command) => {
      await withServices(cmd, async (s) => {
        deleteDataset(s.store, s.home, opts.dataset);
        process.stdout.write(`deleted dataset "${opts.dataset}"\n`);
      });
    });
}

/**
 * `brainsynth generate`: one FLAIR slice of a dataset subject -> N synthetic T1w samples with a
 * ControlNet run (the Generate view's back end, from the command line): prints that slice's PSNR /
 * MAE / MS-SSIM per sample and of the mean, and with --save stores the panels as PNG artefacts of
 * the run (or writes them to --out-dir). Also the shared sampling options and progress bar of
 * `translate` and `evaluate`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import type { Services } from '../../backend';
import { createSampleServices } from '../../backend/sampling/generate';
import type { SampleJob, SampleJobs } from '../../backend/sampling/sample-jobs';
import { resolveModel } from '../../backend/sampling/models';
import type { UnconditionalResult } from '../../backend/sampling/unconditional-job';
import { msSsimDiversity } from '../../ml/metrics';
import { encodePng } from '../../ml/io/png';
import { withServices } from '../services';
import { formatTable, formatValue } from '../table';

export interface SamplingCliOptions {
  run: string;
  steps?: string;
  seed?: string;
  batch?: string;
  guidance?: string;
  conditioningScale?: string;
  brainMask?: 'on' | 'off';
  sampler?: 'ddim' | 'ddpm';
  checkpoint?: 'last' | 'best';
  backend?: string;
}

/** Options every sampling command shares. */
export function addSamplingOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--run <id>', 'trained ControlNet run id')
    .option('--steps <n>', 'denoising steps (DDIM default 200, the reference)')
    .option('--seed <n>', 'seed; image k uses seed + k (slice z of a volume uses seed + z)', '0')
    .option('--batch <n>', 'slices per forward pass', '4')
    .option('--guidance <s>', 'classifier-free guidance scale (default: the run\'s, reference 7)')
    .option('--conditioning-scale <s>', 'ControlNet conditioning scale (default: the run\'s, reference 1)')
    .addOption(new Option('--brain-mask <on|off>', "zero the output outside the FLAIR's brain (default: the run's; desktop runs on, reference off)").choices(['on', 'off']))
    .addOption(new Option('--sampler <kind>', 'sampler').choices(['ddim', 'ddpm']).default('ddim'))
    .addOption(new Option('--checkpoint <kind>', 'which checkpoint of the ControlNet run').choices(['last', 'best']).default('last'))
    .option('--backend <name>', 'compute backend (auto, tensorflow, webgpu, wasm, cpu)');
}

function int(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!Number.isInteger(v)) throw new Error(`${what} must be an integer, got ${JSON.stringify(text)}`);
  return v;
}

function float(text: string | undefined, what: string): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!Number.isFinite(v)) throw new Error(`${what} must be a number, got ${JSON.stringify(text)}`);
  return v;
}

export function samplingRequest(o: SamplingCliOptions) {
  const runId = int(o.run, '--run');
  if (runId === undefined || runId <= 0) throw new Error(`--run must be a run id, got ${JSON.stringify(o.run)}`);
  return {
    runId,
    steps: int(o.steps, '--steps'),
    seed: int(o.seed, '--seed'),
    batch: int(o.batch, '--batch'),
    guidanceScale: float(o.guidance, '--guidance'),
    conditioningScale: float(o.conditioningScale, '--conditioning-scale'),
    brainMask: o.brainMask === undefined ? undefined : o.brainMask === 'on',
    sampler: o.sampler,
    checkpoint: o.checkpoint,
    backend: o.backend,
  };
}

/** Runs a sampling job of this process to its end, with a progress bar on a TTY; throws if it failed. */
export async function waitWithProgress(services: Services, host: SampleJobs, jobId: string, label: string): Promise<SampleJob> {
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {value}/{total} {message}`, stream: process.stderr, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  const off = services.events.on('job.progress', (p) => {
    if (p.jobId !== jobId || !process.stderr.isTTY || p.total === null || p.total === undefined) return;
    if (!started) {
      bar.start(p.total, p.done, { message: p.message ?? '' });
      started = true;
    }
    bar.setTotal(p.total);
    bar.update(p.done, { message: p.message ?? '' });
  });
  const onSigint = () => host.cancel(jobId);
  process.once('SIGINT', onSigint);
  try {
    const job = await host.wait(jobId);
    if (job.state !== 'completed') throw new Error(`${label} ${job.state}: ${job.error ?? 'no reason given'}`);
    return job;
  } finally {
    process.off('SIGINT', onSigint);
    off();
    if (started) bar.stop();
  }
}

/**
 * `brainsynth sample --run <ldm run> --samples N`: unconditional T1w samples of an LDM (the null
 * prompt, no ControlNet, as sample_t1w.py), upsampled to 160x224, with their MS-SSIM diversity
 * (mean over ordered pairs, kernel 7; lower = more diverse) and optional PNGs.
 */
function registerUnconditional(program: Command): void {
  program
    .command('sample')
    .description('unconditional T1w samples of a trained LDM run, with MS-SSIM diversity (lower = more diverse)')
    .requiredOption('--run <id>', 'trained LDM run id (or a ControlNet run: its LDM is used)')
    .option('--samples <n>', 'number of samples (seeds seed..seed+n-1)', '4')
    .option('--steps <n>', 'DDIM steps (reference 200)', '200')
    .option('--seed <n>', 'first seed', '0')
    .option('--batch <n>', 'samples per forward pass', '4')
    .option('--out-dir <dir>', 'write sample_<seed>.png files here')
    .option('--backend <name>', 'compute backend')
    .option('--json', 'print the result as JSON')
    .action(async (o: { run: string; samples: string; steps: string; seed: string; batch: string; outDir?: string; backend?: string; json?: boolean }, cmd: Command) => {
      await withServices(cmd, async (services) => {
        const runId = int(o.run, '--run')!;
        const n = int(o.samples, '--samples')!;
        const seed = int(o.seed, '--seed')!;
        const batch = Math.max(1, int(o.batch, '--batch')!);
        const run = services.runs.get(runId);
        const ldmId = run.stage === 'controlnet' ? (run.parents.find((p) => p.role === 'ldm')?.runId ?? runId) : runId;
        const model = resolveModel(services, ldmId, { allowLdm: true });
        // A job of the one host, in this thread: same lane, progress and cancel as every job.
        let out: UnconditionalResult | null = null;
        const submitted = services.host.submit({
          payload: {
            kind: 'sample',
            spec: {
              sources: { ldm: model.sources.ldm, autoencoder: model.sources.autoencoder },
              seeds: Array.from({ length: n }, (_, i) => seed + i),
              steps: int(o.steps, '--steps'),
              batch,
              ...(o.backend ? { backend: o.backend } : {}),
            },
          },
          label: `Sample LDM run ${ldmId}`,
          inProcess: true,
          onUpdate: (j) => {
            if (process.stderr.isTTY && j.state === 'running' && j.message) process.stderr.write(`\r${j.message}`);
          },
          onDone: (outcome) => void (out = outcome.result as UnconditionalResult),
        });
        const onSigint = () => services.host.cancel(submitted.jobId);
        process.once('SIGINT', onSigint);
        const ended = await services.host.wait(submitted.jobId).finally(() => process.off('SIGINT', onSigint));
        if (process.stderr.isTTY) process.stderr.write('\n');
        if (ended.state !== 'completed' || !out) throw new Error(`sample ${ended.state}: ${ended.error ?? 'no reason given'}`);
        const { images, seconds, backend, inference } = out as UnconditionalResult;
        if (process.stderr.isTTY) process.stderr.write(inference + '\n');
        const diversity = n >= 2 ? msSsimDiversity({ data: images, shape: [n, 160, 224] }) : null;
        if (o.outDir) {
          mkdirSync(o.outDir, { recursive: true });
          for (let k = 0; k < n; k++) {
            writeFileSync(join(o.outDir, `sample_${seed + k}.png`), encodePng({ height: 160, width: 224, data: images.subarray(k * 35840, (k + 1) * 35840) }));
          }
        }
        const result = { ldmRunId: ldmId, samples: n, steps: Number(o.steps), backend, inference, secondsPerSample: seconds / n, msSsimDiversity: diversity };
        if (o.json) process.stdout.write(JSON.stringify(result, null, 1) + '\n');
        else {
          process.stdout.write(`${n} unconditional samples of LDM run ${ldmId} (${o.steps} DDIM steps, ${backend}): ${(seconds / n).toFixed(2)} s per sample\n`);
          if (diversity) process.stdout.write(`MS-SSIM diversity: ${diversity.mean.toFixed(4)} ± ${diversity.std.toFixed(4)} over ${diversity.orderedPairs} ordered pairs (lower = more diverse)\n`);
          if (o.outDir) process.stdout.write(`wrote ${n} PNGs to ${o.outDir}\n`);
        }
      });
    });
}

export function register(program: Command): void {
  registerUnconditional(program);
  addSamplingOptions(
    program
      .command('generate')
      .description('generate synthetic T1w samples for one FLAIR slice of a dataset subject and measure them against its real T1w'),
  )
    .option('--dataset <id>', 'dataset id (default: the run\'s dataset)')
    .requiredOption('--subject <label>', 'subject label, e.g. sub-patient19 or patient19')
    .requiredOption('--z <index>', 'axial slice index (LAS voxel order, as the Data view shows)')
    .option('--samples <n>', 'number of samples (seeds seed..seed+n-1); >1 adds mean and std maps', '1')
    .option('--save', 'store the panels as PNG artefacts of the run')
    .option('--out-dir <dir>', 'also write the panels as PNG files here')
    .option('--json', 'print the result as JSON')
    .action(async (o: SamplingCliOptions & { dataset?: string; subject: string; z: string; samples: string; save?: boolean; outDir?: string; json?: boolean }, cmd: Command) => {
      await withServices(cmd, async (services) => {
        const s = createSampleServices(services, { inProcess: true });
        const req = samplingRequest(o);
        const { jobId } = await s.generate.slice({
          ...req,
          datasetId: int(o.dataset, '--dataset'),
          subject: o.subject,
          z: int(o.z, '--z')!,
          samples: int(o.samples, '--samples'),
        });
        await waitWithProgress(services, s.host, jobId, 'generate');
        const view = s.generate.result(jobId);
        const saved = o.save ? s.generate.save(jobId) : [];
        if (o.outDir && view.images) {
          mkdirSync(o.outDir, { recursive: true });
          const write = (name: string, url: string | null) => url && writeDataUrl(join(o.outDir!, name), url);
          write('flair.png', view.images.flair);
          write('t1w.png', view.images.t1w);
          view.images.samples.forEach((u, k) => write(`sample_seed${view.seeds![k]}.png`, u));
          write('mean.png', view.images.mean);
          write('std.png', view.images.std);
          write('absdiff.png', view.images.absDiff);
        }
        if (o.json) {
          process.stdout.write(JSON.stringify({ jobId, seeds: view.seeds, metrics: view.metrics, seconds: view.seconds, backend: view.backend, saved: saved.map((a) => a.path) }, null, 1) + '\n');
          return;
        }
        process.stdout.write(`generated ${view.seeds?.length ?? 0} sample(s) for ${o.subject} z=${o.z} in ${view.seconds?.toFixed(1)} s on ${view.backend}\n`);
        if (view.metrics) {
          const cols = Object.keys(view.metrics.mean);
          const rows = [
            ...view.metrics.sample.map((m, k) => [`seed ${view.seeds![k]}`, ...cols.map((c) => formatValue(m[c]!))]),
            ...(view.metrics.sample.length > 1 ? [['mean image', ...cols.map((c) => formatValue(view.metrics!.mean[c]!))]] : []),
          ];
          process.stdout.write(formatTable(['image', ...cols], rows));
        } else {
          process.stdout.write('no real T1w for this subject: no metrics\n');
        }
        if (saved.length) process.stdout.write(`saved ${saved.length} PNG artefacts of run ${req.runId} in ${join(saved[0]!.path, '..')}\n`);
      });
    });
}

function writeDataUrl(path: string, url: string): void {
  // Plain write: user-requested copies; the artefacts themselves are written atomically.
  writeFileSync(path, Buffer.from(url.slice(url.indexOf(',') + 1), 'base64'));
}

/**
 * `brainsynth cluster export|import`: train a stage where the GPUs are (torchrun + MONAI Generative
 * under DDP) and bring the run back. Thin wrappers over src/backend/cluster.
 */
import { Command, Option } from 'commander';
import { TRAIN_PRESETS, TRAIN_STAGES, type TrainPreset } from '../../ml/train/config';
import type { TrainStage } from '../../ml/train/session';
import { exportClusterJob } from '../../backend/cluster/export';
import { ClusterFollower } from '../../backend/cluster/follow';
import { importClusterRun, type ClusterImportResult } from '../../backend/cluster/import';
import { withServices } from '../services';
import { parsePositiveInt } from './train';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function describeImport(r: ClusterImportResult): string {
  return (
    `run ${r.run.id} "${r.run.name ?? ''}" (${r.run.stage}): ${r.created ? 'registered' : 'updated'}, status ${r.run.status}, ` +
    `job ${r.jobState}, ${r.metrics} metric points` +
    (r.checkpointStep !== null ? `, checkpoint at step ${r.checkpointStep}` : '') +
    ` | ${r.run.backend ?? ''}`
  );
}

export function register(program: Command): void {
  const cluster = program.command('cluster').description('train a stage on a PyTorch cluster (torchrun + MONAI) and import the run');

  cluster
    .command('export')
    .description('write a self-contained job folder: slices (PNG + TSV), run config, parent weights, train.py, launch.sh, Slurm template')
    .addOption(new Option('--stage <stage>', 'which stage').choices([...TRAIN_STAGES]).makeOptionMandatory())
    .requiredOption('--dataset <name>', 'prepared dataset name or id (see `brainsynth data list`)')
    .addOption(new Option('--preset <preset>', 'network/loop preset').choices([...TRAIN_PRESETS]).default('desktop'))
    .option('--parent <run>', 'parent run: an autoencoder run for ldm, an ldm run for controlnet', parsePositiveInt('--parent'))
    .option('--epochs <n>', 'number of epochs (default: the preset)', parsePositiveInt('--epochs'))
    .option('--set <key=value>', 'override a config field (dotted path, JSON value; repeatable)', collect, [] as string[])
    .option('--name <name>', 'name of the run it becomes')
    .requiredOption('--out <dir>', 'job folder to create (must not exist, or be empty)')
    .option('--json', 'print the result as JSON')
    .action(
      async (
        opts: { stage: TrainStage; dataset: string; preset: TrainPreset; parent?: number; epochs?: number; set: string[]; name?: string; out: string; json?: boolean },
        cmd: Command,
      ) => {
        await withServices(cmd, async (s) => {
          const r = await exportClusterJob(s, {
            stage: opts.stage,
            dataset: opts.dataset,
            preset: opts.preset,
            parentRunId: opts.parent,
            epochs: opts.epochs,
            overrides: opts.set,
            name: opts.name,
            outDir: opts.out,
            onProgress: (m) => {
              if (!opts.json) process.stderr.write(`${m}\n`);
            },
          });
          if (opts.json) {
            process.stdout.write(`${JSON.stringify({ dir: r.dir, jobId: r.manifest.jobId, stage: r.manifest.stage, commands: r.commands, files: r.files }, null, 2)}\n`);
            return;
          }
          const pngs = r.files.filter((f) => f.endsWith('.png')).length;
          process.stdout.write(
            `wrote ${r.dir} (job ${r.manifest.jobId}, ${r.manifest.stage}, ${pngs} PNGs: train ${r.manifest.data.rows.train}, validation ${r.manifest.data.rows.validation}, test ${r.manifest.data.rows.test} slices)\n` +
              `${r.files.filter((f) => !f.endsWith('.png')).join('\n')}\n` +
              `try it here:      ${r.commands.cpu}\n` +
              `on a GPU server:  ${r.commands.gpus}\n` +
              `with Slurm:       ${r.commands.slurm}\n` +
              `then:             brainsynth cluster import ${r.dir} [--follow]\n`,
          );
        });
      },
    );

  cluster
    .command('import')
    .description('register (or update) the run of a cluster job folder: config, lineage, metrics, checkpoints')
    .argument('<dir>', 'the job folder (shared or synced from the cluster)')
    .option('--follow', 'keep importing while the job runs (Ctrl-C stops following; import again to continue)')
    .option('--poll <seconds>', 'with --follow: how often to look for new output', parsePositiveInt('--poll'), 5)
    .option('--json', 'print the result as JSON')
    .action(async (dir: string, opts: { follow?: boolean; poll: number; json?: boolean }, cmd: Command) => {
      await withServices(cmd, async (s) => {
        const print = (r: ClusterImportResult) =>
          process.stdout.write(opts.json ? `${JSON.stringify({ ...r, run: { id: r.run.id, status: r.run.status, backend: r.run.backend } })}\n` : `${describeImport(r)}\n`);
        if (!opts.follow) {
          print(importClusterRun(s, dir));
          return;
        }
        let lastLine = '';
        const follower = new ClusterFollower(s, dir, {
          pollMs: opts.poll * 1000,
          // One line per change (new metrics, checkpoint or state), not per poll.
          onUpdate: (r) => {
            const line = `${r.run.status} ${r.jobState} ${r.metrics} ${r.checkpointStep ?? ''}`;
            if (line !== lastLine) print(r);
            lastLine = line;
          },
          onRetry: (err, n) => process.stderr.write(`cluster import: poll ${n} failed, retrying: ${err.message}\n`),
        });
        follower.start();
        const onSignal = () => follower.stop();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          const end = await follower.done;
          if (end instanceof Error) throw end;
          process.exitCode = end.run.status === 'completed' ? 0 : end.run.status === 'failed' ? 1 : 2;
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      });
    });
}

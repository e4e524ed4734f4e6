/**
 * `brainsynth translate --run R --flair F.nii.gz --out T1w_synth.nii.gz [--steps N] [--seed S]
 * [--batch B]`: every axial slice of a FLAIR volume -> a synthetic T1w NIfTI on the input's grid
 * and affine, normalised as the run's dataset was (empty slices are skipped and stay 0).
 */
import type { Command } from 'commander';
import { createSampleServices } from '../../backend/sampling/generate';
import { withServices } from '../services';
import { addSamplingOptions, samplingRequest, waitWithProgress, type SamplingCliOptions } from './generate';

export function register(program: Command): void {
  addSamplingOptions(
    program
      .command('translate')
      .description('translate a whole FLAIR volume to a synthetic T1w NIfTI (same grid and affine) with a trained ControlNet run'),
  )
    .requiredOption('--flair <path>', 'FLAIR NIfTI (.nii or .nii.gz) on the MNI grid the model was trained on')
    .requiredOption('--out <path>', 'output NIfTI, e.g. T1w_synth.nii.gz')
    .option('--json', 'print the result as JSON')
    .action(async (o: SamplingCliOptions & { flair: string; out: string; json?: boolean }, cmd: Command) => {
      await withServices(cmd, async (services) => {
        const s = createSampleServices(services, { inProcess: true });
        const { jobId, outPath } = s.generate.volume({ ...samplingRequest(o), flairPath: o.flair, outPath: o.out });
        await waitWithProgress(services, s.host, jobId, 'translate');
        const v = s.generate.result(jobId).volume!;
        if (o.json) {
          process.stdout.write(JSON.stringify(v, null, 1) + '\n');
          return;
        }
        const per = v.secondsPerSlice !== null ? `${v.secondsPerSlice.toFixed(2)} s per slice` : 'no slice had signal';
        process.stdout.write(`wrote ${outPath}: ${v.sampledSlices} slices sampled, ${v.skippedSlices} empty slices skipped (${per})\n`);
      });
    });
}

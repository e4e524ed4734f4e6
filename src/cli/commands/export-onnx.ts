/**
 * `brainsynth export-onnx --run N --out DIR`: a trained ControlNet (or LDM) run's networks as ONNX
 * files built from brainsynth's own network definitions and the run's weights (unet.onnx,
 * controlnet.onnx, decoder.onnx, encoder.onnx, onnx-manifest.json), for onnxruntime or any other
 * ONNX runtime. With onnxruntime-node installed, each file is loaded once to check it opens.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { resolveModel } from '../../backend/sampling/models';
import { initEngine } from '../../ml/engine';
import { exportOnnx } from '../../ml/onnx/export';
import { loadOnnxRuntime } from '../../ml/onnx/runtime';
import { loadPipeline } from '../../ml/pipeline';
import { withServices } from '../services';

interface ExportOnnxOptions {
  run: string;
  out: string;
  checkpoint?: 'last' | 'best';
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('export-onnx')
    .description("write a trained run's UNet, ControlNet and autoencoder as ONNX files (NCHW, opset 17) plus a manifest")
    .requiredOption('--run <id>', 'trained ControlNet run id (an LDM run exports without a ControlNet)')
    .requiredOption('--out <dir>', 'output folder (created if missing)')
    .option('--checkpoint <kind>', "'last' (default) or 'best' checkpoint of the run")
    .option('--json', 'print the manifest as JSON')
    .action(async (o: ExportOnnxOptions, cmd: Command) => {
      const runId = Number(o.run);
      if (!Number.isInteger(runId) || runId < 1) throw new Error(`--run must be a run id (positive integer), got ${JSON.stringify(o.run)}`);
      if (o.checkpoint !== undefined && o.checkpoint !== 'last' && o.checkpoint !== 'best') throw new Error(`--checkpoint must be 'last' or 'best', got ${JSON.stringify(o.checkpoint)}`);
      await withServices(cmd, async (services) => {
        const model = resolveModel(services, runId, { checkpoint: o.checkpoint, allowLdm: true });
        // Weights are read through tfjs variables; the CPU backend is enough for that.
        await initEngine({ backend: 'cpu' });
        const p = loadPipeline(model.sources);
        try {
          const out = resolve(o.out);
          const manifest = await exportOnnx(
            {
              unet: p.unet,
              controlnet: p.controlnet,
              ae: p.ae,
              meta: {
                runId,
                checkpoints: p.info.checkpoints,
                steps: p.info.steps,
                imageSize: p.info.imageSize,
                latentScale: p.info.latentScale,
                scheduler: p.info.scheduler,
                guidanceScale: p.info.guidanceScale,
                conditioningScale: p.info.conditioningScale,
                context: p.info.contextSource,
              },
            },
            out,
          );
          const { ort, reason } = await loadOnnxRuntime();
          for (const f of Object.values(manifest.files)) {
            if (ort) await (await ort.InferenceSession.create(readFileSync(join(out, f.file)))).release();
          }
          if (o.json) process.stdout.write(JSON.stringify(manifest, null, 1) + '\n');
          else {
            for (const [name, f] of Object.entries(manifest.files)) process.stdout.write(`${name.padEnd(11)} ${join(out, f.file)}  ${(f.bytes / 1e6).toFixed(1)} MB\n`);
            process.stdout.write(ort ? 'every file loads in onnxruntime\n' : `not checked in onnxruntime (${reason})\n`);
          }
        } finally {
          p.dispose();
        }
      });
    });
}

/**
 * `brainsynth forward`: one forward pass of a MONAI-compatible network on a safetensors file of
 * named inputs, writing outputs named like the MONAI fixture io files. Users run it to check an
 * imported checkpoint (.pth or .safetensors) against outputs produced in PyTorch: when the inputs
 * file also holds expected outputs (as the fixtures do), it prints the relative L2 error of each.
 */
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { initEngine, type BackendRequest } from '../../ml/engine';
import { readSafetensors, readWeights, writeSafetensors, type HostTensor } from '../../ml/io';
import { NETWORK_KINDS, presetConfig, runForwardCheck, type NetworkKind, type PresetName } from '../../ml/networks';
import { relativeL2 } from '../../ml/util/relative-l2';

interface ForwardOptions {
  net: NetworkKind;
  config?: string;
  preset?: PresetName;
  weights: string;
  unetWeights?: string;
  inputs: string;
  out: string;
  backend?: string;
  conditioningScale?: string;
  tolerance: string;
}

function readJson(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`${path}: cannot read config (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
}

/** A fixture-style manifest holds constructor arguments under the network's key; a bare config file is accepted too. */
function configFor(net: NetworkKind, opts: ForwardOptions, manifest: Record<string, unknown> | null): Record<string, unknown> {
  if (manifest) {
    const section = manifest[net];
    if (section && typeof section === 'object') return section as Record<string, unknown>;
    if (opts.net === net && 'spatial_dims' in manifest) return manifest;
    throw new Error(`${opts.config}: no "${net}" section (found: ${Object.keys(manifest).join(', ')})`);
  }
  return presetConfig(net, opts.preset ?? 'reference') as unknown as Record<string, unknown>;
}


export async function forwardCommand(opts: ForwardOptions): Promise<{ outputs: Map<string, HostTensor>; worst: number | null }> {
  if (!NETWORK_KINDS.includes(opts.net)) throw new Error(`--net must be one of ${NETWORK_KINDS.join(', ')}`);
  if (opts.config && opts.preset) throw new Error('give either --config or --preset, not both');
  // The engine picks the backend (and registers the project's kernel fixes); --backend overrides.
  const { backend } = await initEngine({ backend: opts.backend as BackendRequest | undefined });
  const manifest = opts.config ? readJson(opts.config) : null;
  const inputsFile = readSafetensors(opts.inputs);
  let scale = 1;
  if (opts.conditioningScale !== undefined) scale = Number(opts.conditioningScale);
  else if (manifest && typeof manifest.controlnet_conditioning_scale === 'number') scale = manifest.controlnet_conditioning_scale;
  else if (inputsFile.metadata.conditioning_scale !== undefined) scale = Number(inputsFile.metadata.conditioning_scale);
  if (!Number.isFinite(scale)) throw new Error(`conditioning scale must be a number, got '${opts.conditioningScale}'`);
  if (opts.unetWeights && opts.net !== 'controlnet') throw new Error('--unet-weights only applies to --net controlnet');

  const outputs = await runForwardCheck({
    net: opts.net,
    config: configFor(opts.net, opts, manifest),
    weights: readWeights(opts.weights),
    weightsSource: opts.weights,
    inputs: inputsFile.tensors,
    inputsSource: opts.inputs,
    conditioningScale: scale,
    unet: opts.unetWeights ? { config: configFor('diffusion_unet', opts, manifest), weights: readWeights(opts.unetWeights) } : undefined,
    unetWeightsSource: opts.unetWeights,
  });
  writeSafetensors(opts.out, outputs, {
    net: opts.net,
    backend,
    weights: opts.weights,
    inputs: opts.inputs,
    ...(opts.net === 'controlnet' ? { conditioning_scale: String(scale) } : {}),
  });

  let worst: number | null = null;
  const rows: string[] = [];
  for (const [name, t] of outputs) {
    const expected = inputsFile.tensors.get(name);
    let cmp = '';
    if (expected && expected.data.length === t.data.length) {
      const err = relativeL2(t.data, expected.data);
      worst = Math.max(worst ?? 0, err);
      cmp = `  rel. L2 vs inputs file ${err.toExponential(2)}`;
    }
    rows.push(`  ${name.padEnd(22)} [${t.shape.join(', ')}]${cmp}`);
  }
  process.stdout.write(`${opts.net} forward on ${backend}: ${outputs.size} outputs -> ${opts.out}\n${rows.join('\n')}\n`);
  return { outputs, worst };
}

export function register(program: Command): void {
  program
    .command('forward')
    .description('run one forward pass of a MONAI-compatible network (check an imported .pth/.safetensors checkpoint)')
    .addOption(new Option('--net <net>', 'network').choices(NETWORK_KINDS).makeOptionMandatory())
    .option('--config <file>', 'JSON manifest with MONAI constructor arguments under the network key (fixture manifest.json style)')
    .addOption(new Option('--preset <name>', 'use a built-in config instead of --config').choices(['reference', 'desktop']))
    .requiredOption('--weights <file>', 'weights: .safetensors or PyTorch .pth (state_dict or checkpoint dict with "state_dict")')
    .option('--unet-weights <file>', 'controlnet only: UNet weights, to also compute unet_out and controlled_unet_out')
    .requiredOption('--inputs <file>', 'safetensors with NCHW inputs (x | x_t, timesteps, context, controlnet_cond)')
    .requiredOption('--out <file>', 'safetensors file to write the outputs to')
    .option('--backend <name>', 'tfjs backend: auto, tensorflow, webgpu, wasm, cpu (default: $BRAINSYNTH_BACKEND or auto)')
    .option('--conditioning-scale <s>', 'controlnet conditioning scale (default: manifest controlnet_conditioning_scale, the inputs metadata, or 1)')
    .option('--tolerance <t>', 'exit with status 1 when an output differs from the same-named tensor in the inputs file by more than this relative L2', '1e-4')
    .action(async (opts: ForwardOptions) => {
      const { worst } = await forwardCommand(opts);
      const tol = Number(opts.tolerance);
      if (worst !== null && worst > tol) {
        process.stderr.write(`brainsynth: largest relative L2 error ${worst.toExponential(2)} exceeds --tolerance ${opts.tolerance}\n`);
        process.exitCode = 1;
      }
    });
}

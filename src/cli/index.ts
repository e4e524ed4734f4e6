import { Command } from 'commander';
import { COMMAND_MODULES } from './commands';

/** Builds the `brainsynth` program. Every subcommand lives in ./commands and registers itself. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('brainsynth')
    .description('Controllable brain-MRI synthesis workstation (FLAIR -> T1w latent diffusion + ControlNet)')
    .option('--home <dir>', 'where the database and artefacts live (default: $BRAINSYNTH_HOME or the per-user data folder)')
    .showHelpAfterError();
  for (const register of COMMAND_MODULES) register(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`brainsynth: ${message}\n`);
    process.exitCode = process.exitCode && process.exitCode !== 0 ? process.exitCode : 1;
  }
}

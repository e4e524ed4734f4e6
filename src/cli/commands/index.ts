import type { Command } from 'commander';
import { register as registerData } from './data';

/**
 * One entry per command module (runs, serve, data, forward, train, ...). Each module exports
 * `register(program)` and adds its subcommands; add new modules here.
 */
export type RegisterCommands = (program: Command) => void;

export const COMMAND_MODULES: RegisterCommands[] = [registerData];

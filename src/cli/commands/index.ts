import type { Command } from 'commander';
import { register as registerCluster } from './cluster';
import { register as registerData } from './data';
import { register as registerEvaluate } from './evaluate';
import { register as registerExportOnnx } from './export-onnx';
import { register as registerForward } from './forward';
import { register as registerGenerate } from './generate';
import { register as registerMetrics } from './metrics';
import { register as registerRuns } from './runs';
import { register as registerServe } from './serve';
import { register as registerTranslate } from './translate';
import { register as registerTrain } from './train';

/**
 * One entry per command module (runs, serve, data, forward, train, ...). Each module exports
 * `register(program)` and adds its subcommands; add new modules here.
 */
export type RegisterCommands = (program: Command) => void;

export const COMMAND_MODULES: RegisterCommands[] = [registerRuns, registerServe, registerData, registerMetrics, registerForward, registerTrain, registerGenerate, registerTranslate, registerEvaluate, registerCluster, registerExportOnnx];

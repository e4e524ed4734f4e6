#!/usr/bin/env node
// Runs the TypeScript CLI directly through tsx's loader, so the CLI, the tests and the
// benchmarks all execute the same sources as the app without a separate build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/index.ts');
await main(process.argv);

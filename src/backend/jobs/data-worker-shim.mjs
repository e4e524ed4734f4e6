// Starts the TypeScript dataset worker under tsx (dev, CLI, bridge and tests); the Electron build
// bundles data-jobs-worker.ts and installs its own factory (data-jobs-electron.ts).
import { register } from 'tsx/esm/api';

register();
await import('./data-worker.ts');

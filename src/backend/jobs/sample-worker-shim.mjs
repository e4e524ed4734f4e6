// Starts the TypeScript sampling worker under tsx (dev, CLI, bridge and tests); an Electron build
// that bundles generate-worker.ts passes its own createWorker to SampleJobHost instead.
import { register } from 'tsx/esm/api';

register();
await import('./sample-worker.ts');

// Starts the TypeScript training worker under tsx (dev, CLI and tests); the Electron build
// bundles worker.ts itself and starts that file instead.
import { register } from 'tsx/esm/api';

register();
await import('./train-worker.ts');

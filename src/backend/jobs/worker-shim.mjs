// Starts the TypeScript job worker under tsx (dev, CLI, bridge and tests); the Electron build
// bundles worker.ts itself and main hands its built path to the job host instead.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');

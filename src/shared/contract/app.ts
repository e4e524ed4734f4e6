import { z } from 'zod';
import { channel, Empty } from './common';

/** Which process answers and where its home folder is. */

export const AppInfo = z.object({
  name: z.string(),
  version: z.string(),
  home: z.string(),
  dbPath: z.string(),
  schemaVersion: z.number().int(),
  platform: z.string(),
  nodeVersion: z.string(),
  /** Which side answers: the Electron main process or the `brainsynth serve` bridge. */
  host: z.enum(['electron', 'bridge', 'cli', 'test']),
});
export type AppInfo = z.infer<typeof AppInfo>;

export const appChannels = {
  'app.info': channel(Empty, AppInfo),
} as const;

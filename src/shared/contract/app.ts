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
  /** Whether app.pickFolder opens a native folder dialog here (Electron only; a browser page cannot). */
  canPickFolder: z.boolean(),
});
export type AppInfo = z.infer<typeof AppInfo>;

export const appChannels = {
  'app.info': channel(Empty, AppInfo),
  /**
   * A native folder dialog (Electron). Elsewhere answers supported: false and the form keeps its
   * typed path. path is null when the dialog was cancelled or is not supported.
   */
  'app.pickFolder': channel(
    z.object({ title: z.string().max(200).optional(), defaultPath: z.string().max(4096).optional() }).strict(),
    z.object({ supported: z.boolean(), path: z.string().nullable() }),
  ),
} as const;

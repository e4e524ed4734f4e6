import { z } from 'zod';
import { channel, Id } from './common';

/** Housekeeping of runs the researcher does from the app (apart from the record channels in ./runs). */
export const runAdminChannels = {
  /**
   * Deletes a run with its metrics, checkpoints, artefacts and its folder (`runs/<id>`). Refused
   * while it is queued or running, and while other runs name it as their parent.
   */
  'runs.delete': channel(z.object({ id: Id }).strict(), z.object({ id: Id, removedFolder: z.boolean() })),
} as const;

import type { JobContext } from './context';
import type { JobWorkerMessage } from './protocol';

/**
 * The control slots a job shares with its host (an Int32Array over a SharedArrayBuffer, read
 * synchronously between steps): a posted message could wait a long time to be seen by a job
 * whose awaits are all microtasks.
 */
export const CONTROL = {
  /** Non-zero: cancel requested (or the host has ended the job). */
  cancel: 0,
  /** Non-zero: a job held by its test gate may go on. */
  release: 1,
  /** How many confirmed events the host has handled. */
  confirmed: 2,
  /** Non-zero: the host could not handle a confirmed event; the job must stop. */
  refused: 3,
} as const;

/** Bytes of the shared control buffer. */
export const CONTROL_BYTES = 4 * Object.keys(CONTROL).length;

/** The context a job runs with, in the worker thread or the host's thread alike. */
export function createJobContext(control: Int32Array, send: (m: JobWorkerMessage) => void): JobContext {
  let sent = 0;
  return {
    control,
    cancelled: () => Atomics.load(control, CONTROL.cancel) !== 0,
    progress: (progress) => send({ type: 'progress', progress }),
    event: (event) => send({ type: 'event', event }),
    confirm: async (event) => {
      sent += 1;
      send({ type: 'event', event, confirm: true });
      for (;;) {
        if (Atomics.load(control, CONTROL.refused) !== 0) throw new Error('the host could not store what the job reported, so the job stopped');
        if (Atomics.load(control, CONTROL.confirmed) >= sent) return;
        await new Promise((r) => setTimeout(r, 5));
      }
    },
  };
}

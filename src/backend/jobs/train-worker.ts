import { parentPort, workerData } from 'node:worker_threads';
import { runTraining } from '../../ml/train/run';
import type { WorkerInput, WorkerMessage } from '../training/worker-protocol';

/**
 * Training worker thread: runs one job spec and reports everything to the host by message. It
 * never touches the database (the host is the single writer), only the run's folder.
 */
const port = parentPort;
if (!port) throw new Error('the training worker must run inside a worker thread');

const input = workerData as WorkerInput;
const cancel = new Int32Array(input.cancelFlag);
const post = (m: WorkerMessage) => port.postMessage(m);
const cancelled = () => Atomics.load(cancel, 0) !== 0;
let step = 0;
let held = false;

/** The test gate: waits (without busy-looping the event loop) until released or cancelled. */
async function shouldStop(): Promise<boolean> {
  if (input.holdAtStep !== undefined && !held && step >= input.holdAtStep && !cancelled()) {
    held = true;
    post({ type: 'held', step });
    while (!cancelled() && Atomics.load(cancel, 1) === 0) await new Promise((r) => setTimeout(r, 20));
  }
  return cancelled();
}

async function main(): Promise<void> {
  try {
    const { result, summary } = await runTraining(input.spec, {
      started: (backend) => post({ type: 'started', backend }),
      metrics: (points) => post({ type: 'metrics', points }),
      progress: (progress) => {
        step = progress.step;
        post({ type: 'progress', progress });
      },
      checkpoint: (event) => post({ type: 'checkpoint', event }),
      artefact: (event) => post({ type: 'artefact', event }),
      log: (message) => post({ type: 'log', message }),
      shouldStop,
    });
    post({ type: 'done', result, summary });
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    post({ type: 'error', message: e.message, name: e.name, stack: e.stack });
  }
}

void main();

// Child process for close.test.ts: a served bridge with a sampling job running in an idle
// worker thread (it never finishes on its own). After bridge.close() the process must exit by
// itself; a worker left running would keep it alive.
import { startBridge } from '../../src/backend/bridge/server';
import { setJobWorkerEntry } from '../../src/backend/jobs/host';
import type { SampleJobSpec } from '../../src/ml/sample/jobs';

const idleWorker = `
import { parentPort } from 'node:worker_threads';
parentPort.postMessage({ type: 'event', event: { type: 'started', backend: 'idle' } });
setInterval(() => {}, 1000);
`;

setJobWorkerEntry(new URL(`data:text/javascript,${encodeURIComponent(idleWorker)}`));
const bridge = await startBridge({ home: process.argv[2], port: 0 });
const { host } = bridge.services.sampling;
const job = host.submit({ kind: 'slice' } as unknown as SampleJobSpec);
while (job.backend === null) await new Promise((r) => setTimeout(r, 20));
await bridge.close();
process.stdout.write(JSON.stringify({ state: job.state, error: job.error }) + '\n');

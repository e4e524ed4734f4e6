import type { SampleJobProgress } from '../../ml/sample/jobs';

/** What a sampling job reports to the host besides generic progress (see jobs/run-job.ts). */
export type SampleWorkerEvent = { type: 'started'; backend: string } | { type: 'progress'; progress: SampleJobProgress };

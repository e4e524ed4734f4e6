import { computed, onBeforeUnmount, shallowRef } from 'vue';
import {
  cancelGenerate,
  generateResult,
  listSamplingJobs,
  onJobUpdated,
  onSamplingProgress,
  type GenerateJobView,
  type SamplingProgress,
} from '../api/sampling';

export interface SamplingJobHandlers {
  /** Each live progress event of the job whose progress is watched. */
  onProgress: (progress: SamplingProgress) => void;
  /** A fetch or cancel that failed, as a message for the view. */
  onError: (message: string) => void;
  /** Each fetched view of the followed job, after it has become `job`. */
  onView?: (view: GenerateJobView) => void;
}

type JobState = GenerateJobView['state'];

const isLive = (state: JobState): boolean => state === 'queued' || state === 'running';
const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * The sampling job one view shows: follows it through the bridge's 'job.updated' events (the
 * full view, with its result, is fetched once it ends) and its 'job.progress' events.
 * Every subscription ends when the job ends, when another is followed, and on unmount.
 */
export function useSamplingJob(handlers: SamplingJobHandlers) {
  const job = shallowRef<GenerateJobView | null>(null);
  const running = computed(() => job.value !== null && isLive(job.value.state));

  let offProgress: (() => void) | null = null;
  let offUpdates: (() => void) | null = null;

  function stopWatching(): void {
    offProgress?.();
    offProgress = null;
    offUpdates?.();
    offUpdates = null;
  }

  /** Fetches the job's view (with its result once it has ended). */
  async function refresh(jobId: string): Promise<void> {
    try {
      const view = await generateResult(jobId);
      if (job.value?.jobId !== jobId) return;
      job.value = view;
      handlers.onView?.(view);
      if (!isLive(view.state)) stopWatching();
    } catch (err) {
      handlers.onError(messageOf(err));
      stopWatching();
    }
  }

  /**
   * Follows the job (in place of any earlier one): its progress events go to `onProgress`, its
   * state is tracked, and the full result is fetched once it ends.
   */
  async function follow(jobId: string): Promise<void> {
    offProgress?.();
    offProgress = onSamplingProgress(jobId, handlers.onProgress);
    offUpdates?.();
    offUpdates = onJobUpdated(jobId, (j) => {
      if (job.value?.jobId !== jobId) return;
      if (j.state !== job.value.state) job.value = { ...job.value, state: j.state, error: j.error };
      if (!isLive(j.state)) void refresh(jobId);
    });
    // Subscribed first: a job that ended before this point is seen by this fetch.
    await refresh(jobId);
  }

  async function cancel(): Promise<void> {
    if (!job.value) return;
    try {
      job.value = await cancelGenerate(job.value.jobId);
    } catch (err) {
      handlers.onError(messageOf(err));
    }
  }

  /**
   * Shows the newest queued or running job of this kind (one started before the view was left)
   * and answers its id, or null when there is none or a job is shown already. Not yet followed.
   */
  async function pickUpLiveJob(kind: GenerateJobView['kind']): Promise<string | null> {
    const live = (await listSamplingJobs()).filter((j) => j.kind === kind && isLive(j.state));
    const last = live[live.length - 1];
    if (!last || job.value) return null;
    job.value = { jobId: last.jobId, kind, runId: last.runId, state: last.state, progress: null, backend: null, error: null };
    return last.jobId;
  }

  onBeforeUnmount(stopWatching);

  return { job, running, stopWatching, follow, cancel, pickUpLiveJob };
}

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nextTick } from 'vue';
import type { GenerateJobView, Job } from '../../src/shared/contract';
import { useSamplingJob, type SamplingJobHandlers } from '../../src/renderer/src/composables/useSamplingJob';
import type { SamplingProgress } from '../../src/renderer/src/api/sampling';
import { fakeEvents, mountComposable } from './composable-host';

// A bridge stand-in: event listeners by channel, and generate.* answers the test sets.
let events: ReturnType<typeof fakeEvents>;
let results: Map<string, GenerateJobView | Error>;
let liveJobs: Pick<GenerateJobView, 'jobId' | 'kind' | 'runId' | 'state' | 'progress' | 'backend' | 'error'>[];
let cancelled: string[];

const view = (jobId: string, state: GenerateJobView['state'], extra: Partial<GenerateJobView> = {}): GenerateJobView => ({
  jobId,
  kind: 'slice',
  runId: 4,
  state,
  progress: null,
  backend: 'cpu',
  error: null,
  ...extra,
});

const emit = (channel: string, payload: unknown): void => events.emit(channel, payload);
const subscribed = (channel: string): number => events.subscribed(channel);
const jobEvent = (jobId: string, state: Job['state'], error: string | null = null) => ({ jobId, state, error }) as unknown as Job;
/** Lets pending promise callbacks (the fake bridge's answers and what follows them) run. */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
  await nextTick();
};

beforeEach(() => {
  events = fakeEvents();
  results = new Map();
  liveJobs = [];
  cancelled = [];
  const api = {
    on: events.on,
    generate: {
      async result({ jobId }: { jobId: string }) {
        const r = results.get(jobId);
        if (!r) throw new Error(`no job ${jobId}`);
        if (r instanceof Error) throw r;
        return r;
      },
      async cancel({ jobId }: { jobId: string }) {
        cancelled.push(jobId);
        return view(jobId, 'cancelled');
      },
      async jobs() {
        return { jobs: liveJobs };
      },
    },
  };
  (globalThis as { window?: unknown }).window = { api };
});

afterEach(() => {
  delete (globalThis as { window?: unknown }).window;
});

function mountFollower(extra: Partial<SamplingJobHandlers> = {}) {
  const progress: SamplingProgress[] = [];
  const errors: string[] = [];
  const { result: follower, unmount } = mountComposable(() =>
    useSamplingJob({ onProgress: (p) => progress.push(p), onError: (m) => errors.push(m), ...extra }),
  );
  return { follower, progress, errors, unmount };
}

describe('useSamplingJob: one followed sampling job', () => {
  it('follows state events, fetches the full view when the job ends, then unsubscribes', async () => {
    const { follower } = mountFollower();
    results.set('j1', view('j1', 'running'));
    follower.job.value = view('j1', 'queued');
    await follower.follow('j1');
    expect(follower.job.value?.state).toBe('running');
    expect(follower.running.value).toBe(true);
    expect(subscribed('job.updated')).toBe(1);
    expect(subscribed('job.progress')).toBe(1);

    // Another job's events change nothing.
    emit('job.updated', jobEvent('other', 'failed', 'boom'));
    expect(follower.job.value?.state).toBe('running');

    results.set('j1', view('j1', 'completed', { seconds: 3 }));
    emit('job.updated', jobEvent('j1', 'completed'));
    expect(follower.job.value?.state).toBe('completed'); // at once, before the fetch answers
    await settle();
    expect(follower.job.value?.seconds).toBe(3);
    expect(follower.running.value).toBe(false);
    expect(subscribed('job.updated')).toBe(0);
    expect(subscribed('job.progress')).toBe(0);
  });

  it("passes the watched job's progress events on, and hands each fetched view to onView", async () => {
    const views: GenerateJobView[] = [];
    const { follower, progress } = mountFollower({ onView: (v) => views.push(v) });
    const busy = view('j2', 'running', { progress: { phase: 'sampling', done: 3, total: 50, message: '' } });
    results.set('j2', busy);
    follower.job.value = view('j2', 'queued');
    const following = follower.follow('j2'); // progress is watched before the fetch answers
    emit('job.progress', { jobId: 'j2', phase: 'sampling', done: 4, total: 50 });
    emit('job.progress', { jobId: 'j9', phase: 'sampling', done: 1, total: 2 });
    await following;
    expect(progress).toEqual([{ phase: 'sampling', done: 4, total: 50, message: null }]);
    expect(views).toEqual([busy]);
  });

  it('reports a failed fetch and stops listening', async () => {
    const { follower, errors } = mountFollower();
    results.set('j3', new Error('generate.result: the back end is gone'));
    follower.job.value = view('j3', 'queued');
    await follower.follow('j3');
    expect(errors).toEqual(['generate.result: the back end is gone']);
    expect(subscribed('job.updated') + subscribed('job.progress')).toBe(0);
  });

  it('ignores the answer for a job that is no longer the shown one', async () => {
    const { follower } = mountFollower();
    results.set('old', view('old', 'completed'));
    follower.job.value = view('new', 'queued');
    await follower.follow('old');
    expect(follower.job.value?.jobId).toBe('new');
  });

  it('unsubscribes from both event channels when the view unmounts', async () => {
    const { follower, unmount } = mountFollower();
    results.set('j4', view('j4', 'running'));
    follower.job.value = view('j4', 'queued');
    await follower.follow('j4');
    expect(subscribed('job.updated') + subscribed('job.progress')).toBe(2);
    unmount();
    expect(subscribed('job.updated') + subscribed('job.progress')).toBe(0);
  });

  it('watches the progress of one job at a time', async () => {
    const { follower, progress } = mountFollower();
    results.set('a', view('a', 'running'));
    results.set('b', view('b', 'running'));
    follower.job.value = view('b', 'queued');
    await follower.follow('a');
    await follower.follow('b');
    expect(subscribed('job.progress')).toBe(1);
    emit('job.progress', { jobId: 'a', phase: 'sampling', done: 1, total: 2 });
    emit('job.progress', { jobId: 'b', phase: 'sampling', done: 2, total: 2 });
    expect(progress.map((p) => p.done)).toEqual([2]);
  });

  it('cancels the shown job and shows the answer; a failed cancel is reported', async () => {
    const { follower, errors } = mountFollower();
    await follower.cancel(); // nothing shown: nothing asked
    expect(cancelled).toEqual([]);
    follower.job.value = view('j5', 'running');
    await follower.cancel();
    expect(cancelled).toEqual(['j5']);
    expect(follower.job.value?.state).toBe('cancelled');
    (window.api.generate as { cancel: unknown }).cancel = async () => {
      throw new Error('generate.cancel: unknown job j5');
    };
    await follower.cancel();
    expect(errors).toEqual(['generate.cancel: unknown job j5']);
  });

  it('picks up the newest live job of its kind, unless a job is shown already', async () => {
    liveJobs = [
      { ...view('s1', 'running'), kind: 'slice' },
      { ...view('v1', 'completed'), kind: 'volume' },
      { ...view('v2', 'queued'), kind: 'volume', runId: 7 },
      { ...view('v3', 'running'), kind: 'volume', runId: 8 },
      { ...view('v4', 'failed'), kind: 'volume' },
    ];
    const { follower } = mountFollower();
    expect(await follower.pickUpLiveJob('volume')).toBe('v3');
    expect(follower.job.value).toEqual({ jobId: 'v3', kind: 'volume', runId: 8, state: 'running', progress: null, backend: null, error: null });
    expect(await follower.pickUpLiveJob('slice')).toBeNull(); // v3 is shown
    expect(follower.job.value?.jobId).toBe('v3');

    const other = mountFollower().follower;
    liveJobs = [{ ...view('v1', 'completed'), kind: 'volume' }];
    expect(await other.pickUpLiveJob('volume')).toBeNull();
    expect(other.job.value).toBeNull();
  });
});

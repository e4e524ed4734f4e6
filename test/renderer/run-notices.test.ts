import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nextTick, ref, type Ref } from 'vue';
import { useRunNotices } from '../../src/renderer/src/composables/useRunNotices';
import { fakeEvents, mountComposable } from './composable-host';

let events: ReturnType<typeof fakeEvents>;
const emit = (channel: string, payload: unknown) => events.emit(channel, payload);
const subscribed = (channel: string) => events.subscribed(channel);

beforeEach(() => {
  events = fakeEvents();
  (globalThis as { window?: unknown }).window = { api: { on: events.on } };
});
afterEach(() => {
  delete (globalThis as { window?: unknown }).window;
});

function mountNotices(runId: Ref<number>, keep?: number) {
  const { result, unmount } = mountComposable(() => useRunNotices(runId, keep));
  return { notices: result, unmount };
}

describe('useRunNotices: the training loop notices of the watched run', () => {
  it('keeps the watched run\'s lines, newest last, only the last few; another run\'s lines are not shown', () => {
    const runId = ref(3);
    const { notices } = mountNotices(runId, 2);
    emit('run.log', { runId: 3, message: 'resuming at step 40 (epoch 2, batch 0)' });
    emit('run.log', { runId: 9, message: 'resuming at step 7 (epoch 1, batch 7)' });
    expect(notices.value).toEqual(['resuming at step 40 (epoch 2, batch 0)']);
    emit('run.log', { runId: 3, message: 'validation plateau at step 300: annealing' });
    emit('run.log', { runId: 3, message: 'third' });
    expect(notices.value).toEqual(['validation plateau at step 300: annealing', 'third']);
  });

  it('clears and follows the new run when the view switches runs, and unsubscribes when it leaves', async () => {
    const runId = ref(3);
    const { notices, unmount } = mountNotices(runId);
    emit('run.log', { runId: 3, message: 'old run' });
    runId.value = 4;
    await nextTick();
    expect(notices.value).toEqual([]);
    expect(subscribed('run.log')).toBe(1);
    emit('run.log', { runId: 3, message: 'old run again' });
    emit('run.log', { runId: 4, message: 'new run' });
    expect(notices.value).toEqual(['new run']);
    unmount();
    expect(subscribed('run.log')).toBe(0);
  });
});

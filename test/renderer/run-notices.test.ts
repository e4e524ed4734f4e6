import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRenderer, defineComponent, nextTick, ref, type Ref } from 'vue';
import { useRunNotices } from '../../src/renderer/src/composables/useRunNotices';

// A bridge stand-in: event listeners by channel.
type Listener = (payload: unknown) => void;
let listeners: Map<string, Set<Listener>>;
const emit = (channel: string, payload: unknown) => [...(listeners.get(channel) ?? [])].forEach((l) => l(payload));
const subscribed = (channel: string) => listeners.get(channel)?.size ?? 0;

beforeEach(() => {
  listeners = new Map();
  const api = {
    on(channel: string, listener: Listener) {
      const set = listeners.get(channel) ?? new Set<Listener>();
      set.add(listener);
      listeners.set(channel, set);
      return () => void set.delete(listener);
    },
  };
  (globalThis as { window?: unknown }).window = { api };
});
afterEach(() => {
  delete (globalThis as { window?: unknown }).window;
});

// The composable registers an unmount hook, so it runs inside a component mounted on a renderer
// without a DOM; unmounting it is the view leaving.
interface Node {
  children: Node[];
  parent: Node | null;
}
const node = (): Node => ({ children: [], parent: null });
const renderer = createRenderer<Node, Node>({
  createElement: node,
  createText: node,
  createComment: node,
  setText: () => undefined,
  setElementText: () => undefined,
  patchProp: () => undefined,
  insert: (child, parent) => {
    child.parent = parent;
    parent.children.push(child);
  },
  remove: (child) => {
    child.parent = null;
  },
  parentNode: (n) => n.parent,
  nextSibling: () => null,
});

function mountNotices(runId: Ref<number>, keep?: number) {
  let notices!: Ref<string[]>;
  const app = renderer.createApp(
    defineComponent({
      setup() {
        notices = useRunNotices(runId, keep);
        return () => null;
      },
    }),
  );
  app.mount(node());
  return { notices, unmount: () => app.unmount() };
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

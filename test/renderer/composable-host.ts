import { createRenderer, defineComponent } from 'vue';

/**
 * What composable tests share: a bridge stand-in's event side and a component to run a composable
 * in (composables register unmount hooks, so they need one).
 */

export type Listener = (payload: unknown) => void;

/** `on` as the bridge offers it (returns the unsubscribe), plus `emit` and a listener count for tests. */
export function fakeEvents() {
  const listeners = new Map<string, Set<Listener>>();
  return {
    on(channel: string, listener: Listener): () => void {
      const set = listeners.get(channel) ?? new Set<Listener>();
      set.add(listener);
      listeners.set(channel, set);
      return () => void set.delete(listener);
    },
    emit(channel: string, payload: unknown): void {
      for (const l of [...(listeners.get(channel) ?? [])]) l(payload);
    },
    subscribed: (channel: string): number => listeners.get(channel)?.size ?? 0,
  };
}

interface Node {
  children: Node[];
  parent: Node | null;
}
const node = (): Node => ({ children: [], parent: null });
// A renderer with no DOM: enough to mount a component whose setup calls the composable.
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
    if (child.parent) child.parent.children = child.parent.children.filter((c) => c !== child);
    child.parent = null;
  },
  parentNode: (n) => n.parent,
  nextSibling: () => null,
});

/** Runs `setup` in a mounted component; unmounting it is the view leaving. */
export function mountComposable<T>(setup: () => T): { result: T; unmount: () => void } {
  let result!: T;
  const app = renderer.createApp(
    defineComponent({
      setup() {
        result = setup();
        return () => null;
      },
    }),
  );
  app.mount(node());
  return { result, unmount: () => app.unmount() };
}

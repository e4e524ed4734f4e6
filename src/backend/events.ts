/**
 * The main-side push-event hub. Services emit here; the Electron window and the browser bridge
 * each subscribe once and forward every event to their clients, so neither knows about the other.
 */
export type Listener<P> = (payload: P) => void;

export class EventHub<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();
  private readonly anyListeners = new Set<(event: keyof Events, payload: Events[keyof Events]) => void>();

  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  /** Subscribes to every event (what the forwarders use). */
  onAny(listener: (event: keyof Events, payload: Events[keyof Events]) => void): () => void {
    this.anyListeners.add(listener);
    return () => this.anyListeners.delete(listener);
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    // A failing listener must not break the service that emitted, nor the other listeners.
    for (const listener of this.listeners.get(event) ?? []) {
      try {
        (listener as Listener<Events[K]>)(payload);
      } catch (err) {
        console.error(`event listener for ${String(event)} failed:`, err);
      }
    }
    for (const listener of this.anyListeners) {
      try {
        listener(event, payload);
      } catch (err) {
        console.error(`event forwarder for ${String(event)} failed:`, err);
      }
    }
  }

  listenerCount(): number {
    let n = this.anyListeners.size;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }
}

import { onBeforeUnmount, onMounted } from 'vue';
import { onLiveEvent } from '../api/client';
import type { LiveEvent } from '../api/types';

/**
 * Calls `reload` once after a burst of matching push events (metrics arrive in batches many times a
 * second during training; one coalesced reload per `delayMs` keeps the UI responsive).
 */
export function useLiveRefresh(matches: (event: LiveEvent) => boolean, reload: () => unknown, delayMs = 300): void {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let unsubscribe: (() => void) | null = null;
  onMounted(() => {
    unsubscribe = onLiveEvent((event) => {
      if (!matches(event) || timer !== null) return;
      timer = setTimeout(() => {
        timer = null;
        void reload();
      }, delayMs);
    });
  });
  onBeforeUnmount(() => {
    unsubscribe?.();
    if (timer !== null) clearTimeout(timer);
  });
}

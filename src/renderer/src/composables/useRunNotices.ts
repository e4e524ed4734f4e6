import { onBeforeUnmount, ref, watch, type Ref } from 'vue';
import { onRunLog } from '../api/client';

/**
 * The lines a training run's loop reports about itself (where it resumed, a plateau's anneal),
 * for the run the view watches: newest last, the last `keep` of them, cleared when the view
 * switches runs. They are live only: a line sent before the view began watching is not replayed.
 */
export function useRunNotices(runId: Ref<number>, keep = 4): Ref<string[]> {
  const notices = ref<string[]>([]);
  let off: (() => void) | null = null;
  watch(
    runId,
    (id) => {
      off?.();
      notices.value = [];
      off = onRunLog(id, (message) => (notices.value = [...notices.value, message].slice(-keep)));
    },
    { immediate: true },
  );
  onBeforeUnmount(() => off?.());
  return notices;
}

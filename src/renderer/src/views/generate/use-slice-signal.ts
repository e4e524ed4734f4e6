import { computed, shallowRef, watch, type Ref } from 'vue';
import { sliceSignalProfile } from '../../api/sampling';
import { missingSignalReason, type SignalProfile } from './slice-signal';
import type { SliceChoice } from './slice-choice';

/**
 * The picked subject's signal profile, fetched once per (run, dataset, subject), and the reason
 * Start stays disabled when the picked slice has no signal. Until the profile arrives (or when it
 * cannot be fetched) nothing is blocked: generate.slice checks again and says why it refuses.
 */
export function useSliceSignal(runId: Ref<number | null>, choice: Ref<SliceChoice | null>) {
  const profile = shallowRef<SignalProfile | null>(null);
  const key = computed(() => (choice.value ? `${runId.value ?? ''}|${choice.value.datasetId}|${choice.value.subject}` : null));
  let token = 0;
  watch(
    key,
    async (k) => {
      const mine = ++token;
      const c = choice.value;
      if (k === null || !c) return;
      try {
        const p = await sliceSignalProfile({ datasetId: c.datasetId, subject: c.subject, ...(runId.value !== null ? { runId: runId.value } : {}) });
        if (mine === token) profile.value = p;
      } catch {
        if (mine === token) profile.value = null;
      }
    },
    { immediate: true },
  );
  const reason = computed(() => missingSignalReason(profile.value, choice.value));
  return { profile, reason };
}

import { onBeforeUnmount, shallowRef, watch, type Ref } from 'vue';
import { onMetricsAppended, onRunUpdated, queryMetrics } from '../api/client';
import { seriesKey } from './curve-data';

/**
 * A run's metric series, kept in step with the store: the downsampled history once (metrics.query
 * with maxPoints), then only the new points after each 'metrics.appended' event (fromStep = the
 * last step held + 1), so a long run never re-sends its whole history. A resume deletes metrics
 * after its checkpoint, so a step going backwards (or the run being re-queued) reloads everything.
 */

export interface Series {
  name: string;
  split: string;
  steps: number[];
  values: number[];
  /** Points stored for the series (before downsampling of the history). */
  total: number;
}

/** Per-series cap for the initial history: enough for a smooth curve, cheap to draw. */
const HISTORY_POINTS = 4000;
/** A series that grew past this by appends is re-fetched downsampled. */
const MAX_HELD_POINTS = 50_000;

export function useRunCurves(runId: Ref<number | null>) {
  const series = shallowRef<Map<string, Series>>(new Map());
  /** Bumped on every change (the arrays are mutated in place; views watch this instead). */
  const version = shallowRef(0);
  const error = shallowRef<string | null>(null);
  let lastStep = -1;
  let loading: Promise<void> | null = null;
  let again: 'append' | 'reload' | null = null;
  let generation = 0;

  const maxStep = (map: Map<string, Series>) => {
    let m = -1;
    for (const s of map.values()) if (s.steps.length) m = Math.max(m, s.steps[s.steps.length - 1]!);
    return m;
  };

  async function fetch(kind: 'append' | 'reload'): Promise<void> {
    const id = runId.value;
    const gen = generation;
    if (id === null) return;
    try {
      if (kind === 'reload') {
        const got = await queryMetrics(id, { maxPoints: HISTORY_POINTS });
        if (gen !== generation) return;
        const map = new Map<string, Series>();
        for (const s of got) map.set(seriesKey(s.split, s.name), { name: s.name, split: s.split, steps: [...s.steps], values: [...s.values], total: s.total });
        series.value = map;
        lastStep = maxStep(map);
      } else {
        const got = await queryMetrics(id, { fromStep: lastStep + 1, maxPoints: MAX_HELD_POINTS });
        if (gen !== generation) return;
        const map = series.value;
        let tooBig = false;
        for (const s of got) {
          if (s.steps.length === 0) continue;
          const key = seriesKey(s.split, s.name);
          const held = map.get(key);
          if (!held) {
            map.set(key, { name: s.name, split: s.split, steps: [...s.steps], values: [...s.values], total: s.total });
          } else {
            held.steps.push(...s.steps);
            held.values.push(...s.values);
            held.total += s.total;
            if (held.steps.length > MAX_HELD_POINTS) tooBig = true;
          }
        }
        lastStep = Math.max(lastStep, maxStep(map));
        if (tooBig) again = 'reload';
      }
      error.value = null;
      version.value++;
    } catch (err) {
      if (gen === generation) error.value = err instanceof Error ? err.message : String(err);
    }
  }

  /** Coalesces bursts of events: one query in flight, at most one queued behind it. */
  function request(kind: 'append' | 'reload'): void {
    if (loading) {
      again = again === 'reload' || kind === 'reload' ? 'reload' : 'append';
      return;
    }
    loading = fetch(kind).finally(() => {
      loading = null;
      const next = again;
      again = null;
      if (next) request(next);
    });
  }

  watch(
    runId,
    () => {
      generation++;
      loading = null;
      again = null;
      lastStep = -1;
      series.value = new Map();
      version.value++;
      request('reload');
    },
    { immediate: true },
  );

  const offMetrics = onMetricsAppended((e) => {
    if (e.runId !== runId.value) return;
    request(e.lastStep <= lastStep ? 'reload' : 'append');
  });
  const offRun = onRunUpdated((run) => {
    if (run.id === runId.value && run.status === 'queued') request('reload');
  });
  onBeforeUnmount(() => {
    offMetrics();
    offRun();
  });

  return { series, version, error, reload: () => request('reload') };
}

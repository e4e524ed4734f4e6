/**
 * What a reader must know before trusting a generated slice: the model was trained on another
 * dataset, on the synthetic phantom, or only briefly (a smoke run), or the slice lies outside the
 * prepared band, where edge slices hold little or no brain. Pure (unit-tested in Node).
 */

export interface CaveatRun {
  id: number;
  status: string;
  datasetId: number | null;
  config: Record<string, unknown>;
}

export interface CaveatSlice {
  datasetId: number;
  datasetName: string;
  inPrepared: boolean;
  synthetic?: boolean;
}

export interface CaveatDataset {
  id: number;
  name: string;
  synthetic: boolean;
}

export interface Caveat {
  kind: 'other-dataset' | 'phantom' | 'smoke' | 'unfinished' | 'outside-band';
  text: string;
}

/** Epochs at or below this make a run a smoke test, not a model. */
const SMOKE_EPOCHS = 1;

function loopEpochs(config: Record<string, unknown>): number | null {
  const loop = config.loop as Record<string, unknown> | undefined;
  const epochs = loop?.epochs;
  return typeof epochs === 'number' && Number.isFinite(epochs) ? epochs : null;
}

export function modelCaveats(run: CaveatRun | null, slice: CaveatSlice | null, datasets: readonly CaveatDataset[]): Caveat[] {
  const out: Caveat[] = [];
  if (!run) return out;
  const trainedOn = run.datasetId === null ? null : (datasets.find((d) => d.id === run.datasetId) ?? null);
  const trainedName = trainedOn ? `${trainedOn.name} (#${trainedOn.id})` : run.datasetId !== null ? `dataset #${run.datasetId}` : 'an unknown dataset';
  if (trainedOn?.synthetic && slice && !slice.synthetic) {
    out.push({ kind: 'phantom', text: `Run #${run.id} was trained on the synthetic phantom ${trainedName}: what it makes of real MRI says nothing about the method.` });
  } else if (slice && run.datasetId !== null && run.datasetId !== slice.datasetId) {
    out.push({ kind: 'other-dataset', text: `Run #${run.id} was trained on ${trainedName}, not on ${slice.datasetName}: contrast and acquisition may differ.` });
  }
  const epochs = loopEpochs(run.config);
  if (epochs !== null && epochs <= SMOKE_EPOCHS) {
    out.push({ kind: 'smoke', text: `Run #${run.id} trained for ${epochs} epoch${epochs === 1 ? '' : 's'} (a smoke run): expect noise, not anatomy.` });
  }
  if (run.status !== 'completed') {
    out.push({ kind: 'unfinished', text: `Run #${run.id} is ${run.status}: its latest checkpoint is used.` });
  }
  if (slice && !slice.inPrepared) {
    out.push({ kind: 'outside-band', text: 'This slice lies outside the prepared band, where slices hold little or no brain: the model will invent one, and the scores compare it with an almost empty T1w.' });
  }
  return out;
}

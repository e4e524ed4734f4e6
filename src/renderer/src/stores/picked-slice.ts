import { readonly, ref } from 'vue';

/**
 * The FLAIR slice picked in the Data view as a generation condition ("Use as condition"). The
 * Generate view reads `pickedSlice`; the same fields travel in its route query
 * (#/generate?dataset=..&subject=..&volume=..&z=..) so a reload keeps the choice.
 */
export interface PickedSlice {
  datasetId: number;
  datasetName: string;
  subject: string;
  /** The FLAIR volume's id in the store. */
  volumeId: number;
  /** Axial voxel index of the FLAIR volume. */
  z: number;
  /** World (MNI) z of that slice, mm. */
  mniZ: number;
  /** Split of the subject in the prepared set, if prepared. */
  split: string | null;
  synthetic: boolean;
}

const picked = ref<PickedSlice | null>(null);

export const pickedSlice = readonly(picked);

export function setPickedSlice(slice: PickedSlice | null): void {
  picked.value = slice ? { ...slice } : null;
}

export function pickedSliceQuery(s: PickedSlice): string {
  const q = new URLSearchParams({ dataset: String(s.datasetId), subject: s.subject, volume: String(s.volumeId), z: String(s.z) });
  return q.toString();
}

/** Parses the Generate route's query back into its parts (null when incomplete). */
export function parsePickedSliceQuery(hash: string): Pick<PickedSlice, 'datasetId' | 'subject' | 'volumeId' | 'z'> | null {
  const i = hash.indexOf('?');
  if (i < 0) return null;
  const q = new URLSearchParams(hash.slice(i + 1));
  const datasetId = Number(q.get('dataset'));
  const volumeId = Number(q.get('volume'));
  const z = Number(q.get('z'));
  const subject = q.get('subject');
  if (!subject || !Number.isInteger(datasetId) || datasetId <= 0 || !Number.isInteger(volumeId) || volumeId <= 0 || !Number.isInteger(z) || z < 0) return null;
  return { datasetId, subject, volumeId, z };
}

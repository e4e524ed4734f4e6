import type { DatasetDetail, DatasetSubject, DatasetVolume } from '../../../../shared/contract';
import { axialAxis, sliceMniZ, toLasZ } from '../data/slice-geometry';

/** The FLAIR slice the Generate view conditions on, with what the view shows about it. */
export interface SliceChoice {
  datasetId: number;
  datasetName: string;
  subject: string;
  volumeId: number;
  /** Native axial voxel index of the FLAIR volume (what the Data view and slider use). */
  z: number;
  /** The prepared cache's LAS index: what generate.slice takes. */
  lasZ: number;
  mniZ: number;
  split: string | null;
  inPrepared: boolean;
  hasT1w: boolean;
  synthetic: boolean;
  attribution: string | null;
}

export function flairOf(subject: DatasetSubject): DatasetVolume | undefined {
  return subject.volumes.find((v) => v.modality === 'FLAIR');
}

/** Number of axial slices of a FLAIR volume. */
export function axialCount(flair: DatasetVolume): number {
  return flair.dims[axialAxis(flair.affine)] ?? 1;
}

export function sliceChoice(dataset: DatasetDetail, subject: DatasetSubject, z: number): SliceChoice | null {
  const flair = flairOf(subject);
  if (!flair) return null;
  const clamped = Math.min(axialCount(flair) - 1, Math.max(0, Math.round(z)));
  const lasZ = toLasZ(flair.affine, flair.dims, clamped);
  return {
    datasetId: dataset.id,
    datasetName: dataset.name,
    subject: subject.label,
    volumeId: flair.id,
    z: clamped,
    lasZ,
    mniZ: sliceMniZ(flair.affine, clamped),
    split: subject.split,
    inPrepared: (subject.preparedZs ?? []).includes(lasZ),
    hasT1w: subject.volumes.some((v) => v.modality === 'T1w'),
    synthetic: dataset.synthetic,
    attribution: dataset.attribution,
  };
}

/** A starting slice for a subject: the middle of its prepared slices, else the volume's middle. */
export function defaultZ(subject: DatasetSubject): number {
  const flair = flairOf(subject);
  if (!flair) return 0;
  const prepared = (subject.preparedZs ?? []).map((las) => toLasZ(flair.affine, flair.dims, las)).sort((a, b) => a - b);
  return prepared.length ? prepared[Math.floor(prepared.length / 2)]! : Math.floor(axialCount(flair) / 2);
}

export function formatMniZ(mm: number): string {
  return `${mm > 0 ? '+' : ''}${mm.toFixed(1)} mm`;
}

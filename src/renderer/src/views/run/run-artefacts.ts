import type { Artefact } from '../../../../shared/contract';

/**
 * What the run page shows of a ControlNet run's results: the slices saved from the Generate view
 * (one group of PNG panels per generation) and the whole volumes translated with it (NIfTI), read
 * from each artefact's meta as the back end recorded it. Evaluation images and validation figures
 * (other image artefacts) are shown elsewhere.
 */

/** One panel of a saved generation. */
export interface SavedPanel {
  artefactId: number;
  /** 'flair' | 'generated' | 'mean' | 'std (scaled, max …)' | 't1w' | 'absdiff' */
  role: string;
  title: string;
  /** Difference and spread maps are drawn in colour. */
  colored: boolean;
  /** Intensity units per 8-bit grey level (the spread map is stored stretched to its own maximum). */
  unitsPerLevel: number;
  seed: number | null;
}

export interface SavedGeneration {
  jobId: string;
  /** The dataset subject the FLAIR slice came from (absent for a slice given as pixels, and in older saves). */
  subject: string | null;
  z: number | null;
  steps: number | null;
  guidanceScale: number | null;
  /** Whether the samples were zeroed outside the FLAIR's brain (null in saves from before the option). */
  brainMask: boolean | null;
  seeds: number[];
  /** Metrics of the mean image against the real T1w, when the subject had one. */
  meanMetrics: Record<string, number | null>;
  createdAt: string;
  panels: SavedPanel[];
}

export interface TranslatedVolume {
  artefactId: number;
  fileName: string;
  path: string;
  /** The source FLAIR as a dataset subject, when it was one. */
  datasetId: number | null;
  subject: string | null;
  source: string | null;
  steps: number | null;
  sampler: string | null;
  guidanceScale: number | null;
  conditioningScale: number | null;
  brainMask: boolean | null;
  seed: number | null;
  sampledSlices: number | null;
  secondsPerSlice: number | null;
  createdAt: string;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const bool = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

const PANEL_ORDER = ['flair', 'generated', 'mean', 'std', 't1w', 'absdiff'];
const roleKey = (role: string) => role.split(' ')[0]!;

function panelTitle(role: string, seed: number | null): string {
  switch (roleKey(role)) {
    case 'flair':
      return 'FLAIR';
    case 'generated':
      return seed === null ? 'Generated' : `Generated (seed ${seed})`;
    case 'mean':
      return 'Mean';
    case 'std':
      return 'Std';
    case 't1w':
      return 'Real T1w';
    case 'absdiff':
      return '|mean − real|';
    default:
      return role;
  }
}

/** The sample's seed from its file name (sample_seed3.png), the only place save() records it per panel. */
function seedOf(path: string): number | null {
  const m = /sample_seed(\d+)\.png$/i.exec(path);
  return m ? Number(m[1]) : null;
}

/** Saved Generate panels grouped by the generation that made them, newest first. */
export function savedGenerations(artefacts: readonly Artefact[]): SavedGeneration[] {
  const groups = new Map<string, SavedGeneration>();
  for (const a of artefacts) {
    if (a.kind !== 'image' || a.meta.source !== 'generate') continue;
    const jobId = str(a.meta.jobId) ?? `artefact-${a.id}`;
    let g = groups.get(jobId);
    if (!g) {
      const metrics = (a.meta.metrics as { mean?: Record<string, unknown> } | null | undefined)?.mean ?? {};
      g = {
        jobId,
        subject: str(a.meta.subject),
        z: num(a.meta.z),
        steps: num(a.meta.steps),
        guidanceScale: num(a.meta.guidanceScale),
        brainMask: bool(a.meta.brainMask),
        seeds: Array.isArray(a.meta.seeds) ? a.meta.seeds.filter((s): s is number => typeof s === 'number') : [],
        meanMetrics: Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, num(v)])),
        createdAt: a.createdAt,
        panels: [],
      };
      groups.set(jobId, g);
    }
    const role = str(a.meta.role) ?? 'image';
    const seed = roleKey(role) === 'generated' ? seedOf(a.path) : null;
    const stdMax = /max ([0-9.eE+-]+)\)/.exec(role);
    const unitsPerLevel = roleKey(role) === 'std' && stdMax && Number.isFinite(Number(stdMax[1])) ? Number(stdMax[1]) / 255 : 1 / 255;
    g.panels.push({ artefactId: a.id, role, title: panelTitle(role, seed), colored: ['std', 'absdiff'].includes(roleKey(role)), unitsPerLevel, seed });
  }
  const rank = (p: SavedPanel) => {
    const i = PANEL_ORDER.indexOf(roleKey(p.role));
    return i < 0 ? PANEL_ORDER.length : i;
  };
  for (const g of groups.values()) g.panels.sort((a, b) => rank(a) - rank(b) || (a.seed ?? 0) - (b.seed ?? 0) || a.artefactId - b.artefactId);
  return [...groups.values()].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0) || b.panels[0]!.artefactId - a.panels[0]!.artefactId);
}

/** A run's translated volumes, newest first. */
export function translatedVolumes(artefacts: readonly Artefact[]): TranslatedVolume[] {
  return artefacts
    .filter((a) => a.kind === 'volume')
    .map((a) => ({
      artefactId: a.id,
      fileName: a.path.split(/[\\/]/).pop() ?? a.path,
      path: a.path,
      datasetId: num(a.meta.datasetId),
      subject: str(a.meta.subject),
      source: str(a.meta.source),
      steps: num(a.meta.steps),
      sampler: str(a.meta.sampler),
      guidanceScale: num(a.meta.guidanceScale),
      conditioningScale: num(a.meta.conditioningScale),
      brainMask: bool(a.meta.brainMask),
      seed: num(a.meta.seed),
      sampledSlices: num(a.meta.sampledSlices),
      secondsPerSlice: num(a.meta.secondsPerSlice),
      createdAt: a.createdAt,
    }))
    .sort((a, b) => b.artefactId - a.artefactId);
}

/** "sub-01 · 200 DDIM steps · guidance 7 · brain mask" for a volume's row. */
export function describeTranslation(v: TranslatedVolume): string {
  const parts = [v.subject ?? (v.source ? v.source.split(/[\\/]/).pop()! : 'unknown FLAIR')];
  if (v.steps !== null) parts.push(`${v.steps} ${v.sampler ? `${v.sampler.toUpperCase()} ` : ''}steps`);
  parts.push(v.guidanceScale !== null ? `guidance ${v.guidanceScale}` : 'guidance: the run\'s default');
  if (v.brainMask) parts.push('brain mask');
  return parts.join(' · ');
}

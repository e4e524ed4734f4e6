/**
 * Finds FLAIR/T1w pairs in a BIDS-like folder:
 *   DIR/sub-<label>/[ses-<label>/]anat/<name>_FLAIR.nii[.gz]  + <name>_T1w.nii[.gz]
 *   optional <name>_label-lesion_mask.nii[.gz] (lesion mask) and <name>_mask.nii[.gz] (brain mask).
 * Only names are inspected here; contents are validated by the importer.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

export interface SubjectFiles {
  /** 'sub-<label>' as the folder is named. */
  subject: string;
  /** 'ses-<label>' or null. */
  session: string | null;
  flair: string;
  t1w: string;
  lesionMask?: string;
  brainMask?: string;
}

export class BidsLayoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BidsLayoutError';
  }
}

const NIFTI = /\.nii(\.gz)?$/i;

type Role = 'flair' | 't1w' | 'lesionMask' | 'brainMask';

function roleOf(file: string): Role | undefined {
  if (!NIFTI.test(file)) return undefined;
  const stem = file.replace(NIFTI, '');
  if (stem.endsWith('_FLAIR')) return 'flair';
  if (stem.endsWith('_T1w')) return 't1w';
  if (stem.endsWith('_label-lesion_mask')) return 'lesionMask';
  if (stem.endsWith('_mask')) return 'brainMask';
  return undefined;
}

function listDirs(dir: string, prefix: string): string[] {
  return readdirSync(dir)
    .filter((n) => n.startsWith(prefix) && statSync(join(dir, n)).isDirectory())
    .sort();
}

/** Scans `root` and returns one entry per subject/session, sorted by subject then session. */
export function scanBidsFolder(root: string): SubjectFiles[] {
  const dir = resolve(root);
  if (!existsSync(dir)) throw new BidsLayoutError(`${dir}: folder not found`);
  if (!statSync(dir).isDirectory()) throw new BidsLayoutError(`${dir}: not a folder`);
  const out: SubjectFiles[] = [];
  const problems: string[] = [];
  for (const subject of listDirs(dir, 'sub-')) {
    const subjectDir = join(dir, subject);
    const sessions = listDirs(subjectDir, 'ses-');
    const anatDirs: { session: string | null; anat: string }[] = [];
    if (existsSync(join(subjectDir, 'anat'))) anatDirs.push({ session: null, anat: join(subjectDir, 'anat') });
    for (const session of sessions) {
      const anat = join(subjectDir, session, 'anat');
      if (existsSync(anat)) anatDirs.push({ session, anat });
    }
    for (const { session, anat } of anatDirs) {
      const found: Partial<Record<Role, string[]>> = {};
      for (const file of readdirSync(anat).sort()) {
        const role = roleOf(file);
        if (role) (found[role] ??= []).push(join(anat, file));
      }
      const where = relative(dir, anat) || anat;
      for (const role of ['flair', 't1w', 'lesionMask', 'brainMask'] as const) {
        if ((found[role]?.length ?? 0) > 1) {
          problems.push(`${where}: ${found[role]!.length} ${role} files (${found[role]!.map((f) => relative(anat, f)).join(', ')}); keep one per subject/session`);
        }
      }
      const flair = found.flair?.[0];
      const t1w = found.t1w?.[0];
      if (!flair && !t1w) continue;
      if (!flair) {
        problems.push(`${relative(dir, t1w!)}: T1w without a *_FLAIR.nii[.gz] beside it`);
        continue;
      }
      if (!t1w) {
        problems.push(`${relative(dir, flair)}: FLAIR without a *_T1w.nii[.gz] beside it`);
        continue;
      }
      out.push({
        subject,
        session,
        flair,
        t1w,
        ...(found.lesionMask ? { lesionMask: found.lesionMask[0] } : {}),
        ...(found.brainMask ? { brainMask: found.brainMask[0] } : {}),
      });
    }
  }
  if (problems.length > 0) throw new BidsLayoutError(`${dir}: ${problems.join('; ')}`);
  if (out.length === 0) {
    throw new BidsLayoutError(`${dir}: no subjects found (expected sub-*/[ses-*/]anat/*_FLAIR.nii[.gz] with *_T1w.nii[.gz])`);
  }
  return out;
}

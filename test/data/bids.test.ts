import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scanBidsFolder } from '../../src/ml/data/bids';
import { tempDir, writeFile } from './helpers';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('BIDS-like folder scan', () => {
  it('finds subjects with and without sessions, lesion and brain masks, and ignores other files', () => {
    const root = join(tmp.dir, 'ok');
    for (const f of [
      'sub-01/anat/sub-01_FLAIR.nii.gz',
      'sub-01/anat/sub-01_T1w.nii.gz',
      'sub-01/anat/sub-01_label-lesion_mask.nii.gz',
      'sub-01/anat/sub-01_T2w.nii.gz',
      'sub-02/ses-b/anat/sub-02_ses-b_FLAIR.nii',
      'sub-02/ses-b/anat/sub-02_ses-b_T1w.nii',
      'sub-02/ses-b/anat/sub-02_ses-b_desc-brain_mask.nii.gz',
      'sub-02/ses-a/anat/sub-02_ses-a_FLAIR.nii.gz',
      'sub-02/ses-a/anat/sub-02_ses-a_T1w.nii.gz',
      'sub-03/anat/notes.txt',
      'derivatives/sub-09/anat/sub-09_FLAIR.nii.gz',
    ])
      writeFile(join(root, f), '');
    const found = scanBidsFolder(root);
    expect(found.map((s) => [s.subject, s.session, !!s.lesionMask, !!s.brainMask])).toEqual([
      ['sub-01', null, true, false],
      ['sub-02', 'ses-a', false, false],
      ['sub-02', 'ses-b', false, true],
    ]);
    expect(found[2]!.flair).toBe(join(root, 'sub-02/ses-b/anat/sub-02_ses-b_FLAIR.nii'));
  });

  it('names the folder and the problem for ambiguous or unpaired files', () => {
    const root = join(tmp.dir, 'bad');
    for (const f of ['sub-01/anat/sub-01_acq-a_FLAIR.nii.gz', 'sub-01/anat/sub-01_acq-b_FLAIR.nii.gz', 'sub-01/anat/sub-01_T1w.nii.gz', 'sub-02/anat/sub-02_T1w.nii.gz'])
      writeFile(join(root, f), '');
    expect(() => scanBidsFolder(root)).toThrow(/sub-01\/anat: 2 flair files \(sub-01_acq-a_FLAIR\.nii\.gz, sub-01_acq-b_FLAIR\.nii\.gz\).*sub-02\/anat\/sub-02_T1w\.nii\.gz: T1w without a \*_FLAIR/);
    expect(() => scanBidsFolder(join(tmp.dir, 'missing'))).toThrow(/missing: folder not found/);
  });
});

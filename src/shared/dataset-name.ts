import { z } from 'zod';

/**
 * What a dataset name may be, checked once for every way in (IPC, bridge, CLI): it is shown in
 * tables, figure captions and file names, so no control characters (a newline breaks every
 * listing) and a length a table can show.
 */
export const DATASET_NAME_MAX_CHARS = 200;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Why `name` is not a valid dataset name, or undefined when it is. */
export function datasetNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name.trim() === '') return 'a dataset needs a name (--name)';
  if (name.trim().length > DATASET_NAME_MAX_CHARS) return `dataset name too long (${name.trim().length} characters; at most ${DATASET_NAME_MAX_CHARS})`;
  if (CONTROL.test(name)) return 'dataset name contains a control character (newline, tab, ...); use plain text';
  return undefined;
}

/** The contract's schema for a dataset name; same rule as datasetNameProblem. */
export const DatasetName = z.string().superRefine((name, ctx) => {
  const problem = datasetNameProblem(name);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

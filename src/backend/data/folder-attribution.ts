import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readRegularFilePrefix } from '../../ml/io/regular-file';

/** Longest attribution text stored with a dataset (licence files can be long). */
const MAX_CHARS = 1200;
/** Only this much of a licence/readme is read: enough for MAX_CHARS, whatever the file's size. */
const LICENCE_READ_BYTES = 16 * 1024;
/** A dataset_description.json beyond this is not a description; it is skipped, not read. */
const DESCRIPTION_MAX_BYTES = 1024 * 1024;
const LICENCE_FILES = ['LICENSE.txt', 'LICENSE', 'LICENSE.md', 'LICENCE.txt', 'LICENCE', 'README.txt', 'README.md', 'README'];

/**
 * The attribution a dataset folder carries about itself, so the Data view can show the citation
 * wherever its images are shown: BIDS dataset_description.json (License, HowToAcknowledge,
 * ReferencesAndLinks) first, else the opening of a licence/readme file. Null when there is none.
 */
export function readFolderAttribution(dir: string): string | null {
  const description = join(dir, 'dataset_description.json');
  if (existsSync(description)) {
    try {
      // A prefix of an oversized file fails to parse and falls through like a malformed one.
      const d = JSON.parse(readRegularFilePrefix(description, DESCRIPTION_MAX_BYTES).toString('utf8')) as Record<string, unknown>;
      const parts = [d.Name, d.License && `Licence: ${String(d.License)}`, d.HowToAcknowledge, asList(d.ReferencesAndLinks)]
        .filter((p): p is string => typeof p === 'string' && p.trim() !== '');
      if (parts.length > 0) return clip(parts.join('\n'));
    } catch {
      // A malformed, oversized or non-regular description is not an import error; fall through to licence files.
    }
  }
  for (const name of LICENCE_FILES) {
    const file = join(dir, name);
    if (!existsSync(file)) continue;
    let text: string;
    try {
      text = readRegularFilePrefix(file, LICENCE_READ_BYTES).toString('utf8').replace(/\0+/g, '').replace(/[ \t]+\n/g, '\n').trim();
    } catch {
      continue; // a pipe or folder named LICENSE says nothing about the data
    }
    if (text) return clip(text);
  }
  return null;
}

function asList(v: unknown): string | undefined {
  return Array.isArray(v) ? v.map(String).join('; ') : typeof v === 'string' ? v : undefined;
}

function clip(text: string): string {
  return text.length <= MAX_CHARS ? text : `${text.slice(0, MAX_CHARS - 1)}…`;
}

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Longest attribution text stored with a dataset (licence files can be long). */
const MAX_CHARS = 1200;
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
      const d = JSON.parse(readFileSync(description, 'utf8')) as Record<string, unknown>;
      const parts = [d.Name, d.License && `Licence: ${String(d.License)}`, d.HowToAcknowledge, asList(d.ReferencesAndLinks)]
        .filter((p): p is string => typeof p === 'string' && p.trim() !== '');
      if (parts.length > 0) return clip(parts.join('\n'));
    } catch {
      // A malformed description is not an import error; fall through to licence files.
    }
  }
  for (const name of LICENCE_FILES) {
    const file = join(dir, name);
    if (existsSync(file)) {
      const text = readFileSync(file, 'utf8').replace(/[ \t]+\n/g, '\n').trim();
      if (text) return clip(text);
    }
  }
  return null;
}

function asList(v: unknown): string | undefined {
  return Array.isArray(v) ? v.map(String).join('; ') : typeof v === 'string' ? v : undefined;
}

function clip(text: string): string {
  return text.length <= MAX_CHARS ? text : `${text.slice(0, MAX_CHARS - 1)}…`;
}

/**
 * The Train view's config form, generated from the config the back end builds for a preset (so a
 * new config key shows up without renderer changes): every leaf as a dotted path with its value,
 * the reference preset's value next to it, and edits turned into the same `key=value` overrides
 * the CLI's --set takes. Validation itself stays on the back end (train.validate).
 */

export interface ConfigField {
  path: string;
  /** The section heading (the parent path, or 'general' for top-level keys). */
  section: string;
  key: string;
  kind: 'number' | 'boolean' | 'string' | 'json';
  /** The preset's value as text (JSON for arrays/objects/null). */
  text: string;
  /** The reference preset's value as text, or null when the reference has no such key. */
  reference: string | null;
  /** The accepted words, for a field that takes one of a few (the form offers a list). */
  choices?: string[];
}

/** Keys the view asks for elsewhere (stage, preset, seed) or that the back end fills in. */
const HIDDEN = new Set(['stage', 'preset', 'loop.seed', 'autoencoder.perceptual']);

/** Number fields that also take null (no budget). */
const NULLABLE_NUMBERS = new Set(['loop.budgetMinutes', 'loop.budgetSteps']);

export function valueText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return JSON.stringify(v);
}

function kindOf(v: unknown): ConfigField['kind'] {
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'boolean';
  if (typeof v === 'string') return 'string';
  return 'json';
}

function lookup(obj: unknown, path: string): { found: boolean; value: unknown } {
  let node: unknown = obj;
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object' || Array.isArray(node) || !(part in (node as object))) return { found: false, value: undefined };
    node = (node as Record<string, unknown>)[part];
  }
  return { found: true, value: node };
}

export function configFields(
  base: Record<string, unknown> | null,
  reference: Record<string, unknown> | null,
  choices: Readonly<Record<string, string[]>> = {},
): ConfigField[] {
  const out: ConfigField[] = [];
  const walk = (node: Record<string, unknown>, prefix: string) => {
    const isSection = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
    // A section's own values first, then its sub-sections, so each heading appears once.
    for (const [key, value] of Object.entries(node)) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (HIDDEN.has(path) || isSection(value)) continue;
      const ref = lookup(reference, path);
      const field: ConfigField = { path, section: prefix || 'general', key, kind: kindOf(value), text: valueText(value), reference: ref.found ? valueText(ref.value) : null };
      // A listed field offers its words; an older boolean value keeps its checkbox.
      const words = choices[path];
      if (words && field.kind === 'string') field.choices = [...words];
      out.push(field);
    }
    for (const [key, value] of Object.entries(node)) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (!HIDDEN.has(path) && isSection(value)) walk(value as Record<string, unknown>, path);
    }
  };
  if (base) walk(base, '');
  return out;
}

/** A problem the form can see without the back end (the type of a typed value). */
export function localError(field: ConfigField, text: string): string | null {
  const t = text.trim();
  if (field.kind === 'number') {
    if (NULLABLE_NUMBERS.has(field.path) && t === 'null') return null;
    if (t === '' || !Number.isFinite(Number(t))) {
      // latentScale also takes 'auto' (1/std of the latents of 32 training slices).
      if (field.path.endsWith('latentScale') && t === 'auto') return null;
      return 'expected a number';
    }
    return null;
  }
  if (field.kind === 'json') {
    if (field.text === 'null' && t !== '' && t !== 'null') return null; // a nullable path or text
    try {
      JSON.parse(t);
      return null;
    } catch {
      return 'expected JSON, e.g. [80, 112] or null';
    }
  }
  return null;
}

/** Edited fields as `key=value` overrides (unchanged values are left to the preset). */
export function toOverrides(fields: readonly ConfigField[], edits: Readonly<Record<string, string>>): string[] {
  const out: string[] = [];
  for (const f of fields) {
    const text = edits[f.path];
    if (text === undefined || text.trim() === f.text) continue;
    out.push(`${f.path}=${text.trim()}`);
  }
  return out;
}

/**
 * The field a back-end message is about: the longest field path (or section) it names. Messages
 * from the training code start with the key (`loop.epochs must be ...`, `--set key: ...`,
 * `autoencoder.network: ...`).
 */
export function fieldOfError(fields: readonly ConfigField[], message: string | null): string | null {
  if (!message) return null;
  let best: string | null = null;
  const names = (p: string) => new RegExp(`(^|[\\s:(])${p.replace(/[.[\]]/g, '\\$&')}(?=$|[\\s:=,.)])`).test(message);
  for (const f of fields) {
    if (names(f.path) && (best === null || f.path.length > best.length)) best = f.path;
  }
  if (best) return best;
  // A section-level message (e.g. "autoencoder.network: num_channels ..."): the deepest section it
  // names; the field of that section whose key the message mentions, else its first field.
  // A section counts only as a key (followed by ':' or '.'), not as a stage word in a sentence.
  const namesSection = (p: string) => new RegExp(`(^|[\\s(])${p.replace(/[.[\]]/g, '\\$&')}(?=[:.])`).test(message);
  const named = fields.filter((f) => f.section !== 'general' && namesSection(f.section));
  if (named.length === 0) return null;
  const deepest = named.reduce((a, b) => (b.section.length > a.section.length ? b : a)).section;
  const inSection = named.filter((f) => f.section === deepest);
  return (inSection.find((f) => new RegExp(`\\b${f.key}\\b`).test(message)) ?? inSection[0]!).path;
}

/**
 * Run tags: short labels a researcher attaches to runs ("baseline", "lr-sweep") to find and group
 * them, as in MLflow or Weights & Biases. Stored and sent normalised: trimmed, without empty ones,
 * and unique regardless of case (the first spelling given wins), so "Baseline" and "baseline" are
 * one tag and a search for either finds it.
 */
export const MAX_TAGS = 20;
export const MAX_TAG_LENGTH = 40;
/** Notes are free text; a bound keeps one run's row (and every list reply) reasonable. */
export const MAX_NOTES_LENGTH = 20_000;

export function normaliseTags(tags: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const raw of tags) {
    // Inner runs of whitespace become one space: "lr  sweep" and "lr sweep" are the same label.
    const tag = raw.trim().replace(/\s+/g, ' ');
    const key = tag.toLowerCase();
    if (!tag || seen.has(key)) continue;
    seen.add(key);
    out.push(tag);
  }
  return out;
}

/** Why a (normalised) tag list cannot be stored, or null when it can. */
export function tagsProblem(tags: readonly string[]): string | null {
  if (tags.length > MAX_TAGS) return `a run has at most ${MAX_TAGS} tags, got ${tags.length}`;
  const long = tags.find((t) => t.length > MAX_TAG_LENGTH);
  if (long !== undefined) return `tag '${long.slice(0, MAX_TAG_LENGTH)}…' is longer than ${MAX_TAG_LENGTH} characters`;
  return null;
}

/** The tags after adding `add` and removing `remove` (case-insensitively), normalised. */
export function editTags(current: readonly string[], add: readonly string[], remove: readonly string[]): string[] {
  const gone = new Set(normaliseTags(remove).map((t) => t.toLowerCase()));
  return normaliseTags([...current, ...add]).filter((t) => !gone.has(t.toLowerCase()));
}

/** "a, b ,c" -> ['a', 'b', 'c'] (empty parts dropped), as typed on the command line or in a tag field. */
export function splitTagList(text: string): string[] {
  return normaliseTags(text.split(','));
}

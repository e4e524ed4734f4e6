/** Display formatting shared by views. Pure functions, unit-tested in test/renderer. */

/** Local time as `YYYY-MM-DD HH:MM[:SS]` (ISO-like: unambiguous across locales, sorts as text). */
export function formatTimestamp(iso: string | null | undefined, { seconds = true }: { seconds?: boolean } = {}): string {
  if (!iso) return '—';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (n: number): string => String(n).padStart(2, '0');
  const day = `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}${seconds ? `:${pad(date.getSeconds())}` : ''}`;
  return `${day} ${time}`;
}

/** Milliseconds -> "850 ms", "12.3 s", "4 min 05 s", "2 h 03 min", "3 d 4 h". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const totalSeconds = Math.round(s);
  const minutes = Math.floor(totalSeconds / 60);
  if (minutes < 60) return `${minutes} min ${String(totalSeconds % 60).padStart(2, '0')} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${String(minutes % 60).padStart(2, '0')} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/**
 * Duration of a run: started (or created) -> finished; a run still going counts up to `now`.
 * Returns null when the run has not started.
 */
export function runDurationMs(
  run: { status: string; createdAt?: string | null; startedAt?: string | null; finishedAt?: string | null },
  now: number = Date.now(),
): number | null {
  const start = Date.parse(run.startedAt ?? '');
  if (Number.isNaN(start)) return null;
  const finish = Date.parse(run.finishedAt ?? '');
  if (!Number.isNaN(finish)) return Math.max(0, finish - start);
  return run.status === 'running' ? Math.max(0, now - start) : null;
}

/** Metric values span 1e-8 (KL) to 1e3 (FID): keep 4 significant digits, switch to exponent outside [1e-3, 1e5). */
export function formatMetric(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  if (magnitude < 1e-3 || magnitude >= 1e5) return value.toExponential(3);
  return Number(value.toPrecision(4)).toString();
}

export interface ConfigRow {
  /** Dotted path, unique per row (e.g. `autoencoder.channels[1]`). */
  path: string;
  key: string;
  depth: number;
  /** Formatted leaf value; null for a group heading (object/array with children). */
  value: string | null;
  kind: 'group' | 'string' | 'number' | 'boolean' | 'null' | 'empty';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Arrays of scalars read best inline: `[64, 128, 128]`. */
function isScalarArray(value: unknown[]): boolean {
  return value.every((v) => v === null || ['string', 'number', 'boolean'].includes(typeof v));
}

/** Flattens a run config into indented key/value rows for a readable tree. */
export function flattenConfig(config: unknown, maxDepth = 8): ConfigRow[] {
  const rows: ConfigRow[] = [];
  const visit = (value: unknown, key: string, path: string, depth: number): void => {
    if (Array.isArray(value) && isScalarArray(value)) {
      rows.push({ path, key, depth, value: JSON.stringify(value).replaceAll(',', ', '), kind: value.length ? 'string' : 'empty' });
      return;
    }
    if (Array.isArray(value) || isPlainObject(value)) {
      const entries: [string, unknown][] = Array.isArray(value)
        ? value.map((v, i) => [`[${i}]`, v])
        : Object.entries(value);
      if (entries.length === 0) {
        if (!path) return; // an empty root config has no rows
        rows.push({ path, key, depth, value: Array.isArray(value) ? '[]' : '{}', kind: 'empty' });
        return;
      }
      if (depth >= maxDepth) {
        rows.push({ path, key, depth, value: JSON.stringify(value), kind: 'string' });
        return;
      }
      if (path) rows.push({ path, key, depth, value: null, kind: 'group' });
      for (const [childKey, child] of entries) {
        const childPath = !path ? childKey : childKey.startsWith('[') ? `${path}${childKey}` : `${path}.${childKey}`;
        visit(child, childKey, childPath, path ? depth + 1 : depth);
      }
      return;
    }
    if (value === null || value === undefined) rows.push({ path, key, depth, value: 'null', kind: 'null' });
    else if (typeof value === 'number') rows.push({ path, key, depth, value: String(value), kind: 'number' });
    else if (typeof value === 'boolean') rows.push({ path, key, depth, value: String(value), kind: 'boolean' });
    else rows.push({ path, key, depth, value: String(value), kind: 'string' });
  };
  if (isPlainObject(config) || Array.isArray(config)) visit(config, '', '', 0);
  else if (config !== undefined) visit(config, 'value', 'value', 0);
  return rows;
}

/** Plain-text tables for the CLI: left-aligned columns, numbers right-aligned, one header rule. */
export function formatTable(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = rows.map((row) => row.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const isNumber = (c: string) => /^-?\d[\d.,e+-]*$/.test(c);
  const numeric = headers.map((_, i) => cells.some((r) => isNumber(r[i] ?? '')) && cells.every((r) => isNumber(r[i] ?? '') || r[i] === '-'));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (row: string[]) =>
    row
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n') + '\n';
}

/** Compact number for tables: 4 significant digits, exponent for very small/large values. */
export function formatValue(value: number): string {
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e5 || abs < 1e-3) return value.toExponential(3);
  return Number(value.toPrecision(4)).toString();
}

/** "1h 02m", "3m 05s", "12s" from two ISO times (end defaults to now). */
export function formatDuration(startIso: string | null, endIso: string | null, now = Date.now()): string | null {
  if (!startIso) return null;
  const start = Date.parse(startIso);
  const end = endIso ? Date.parse(endIso) : now;
  if (!Number.isFinite(start) || !Number.isFinite(end)) return null;
  const s = Math.max(0, Math.round((end - start) / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}

/** "2026-11-26 08:33" from an ISO timestamp (UTC, so output is stable across machines). */
export function formatTime(iso: string | null): string | null {
  if (!iso) return null;
  return iso.replace('T', ' ').slice(0, 16);
}

/** Pieces the benchmark files share (the harness skips files starting with "_"). */

/** One row of a benchmark's JSON record (bench/results/). */
export interface BenchResult {
  case: string;
  value: number;
  unit: string;
  target?: { op: '>=' | '<='; value: number };
  detail?: Record<string, unknown>;
}

/** Wall and CPU seconds: on a shared, loaded machine CPU time is the fairer throughput figure. */
export function timeBoth(fn: () => void): { wall: number; cpu: number } {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  fn();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1e6 };
}

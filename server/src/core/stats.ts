/**
 * Latency distributions. Percentiles use the nearest-rank method: the p-th percentile of n sorted
 * samples is the sample at rank ceil(p/100 · n) (1-based). It always reports a latency that was
 * actually observed, never an interpolation; with fewer than 20 samples p95 is the maximum.
 * No means are reported: one slow outlier should show up in p99/max, not blur into an average.
 */

export interface Distribution {
  n: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

export function distribution(samples: readonly number[]): Distribution | undefined {
  const s = samples.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return undefined;
  return { n: s.length, min: s[0]!, p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s[s.length - 1]! };
}

export interface Budgets {
  passRate?: number;
  p50Ms?: number;
  p95Ms?: number;
  ttftP95Ms?: number;
}

export type BudgetName = 'passRate' | 'p50Ms' | 'p95Ms' | 'ttftP95Ms';

export interface BudgetCheck {
  name: BudgetName;
  limit: number;
  /** Undefined when nothing was measured (every example cached or skipped). */
  actual?: number;
  status: 'pass' | 'fail' | 'unmeasured';
  message: string;
}

export interface BudgetInput {
  /** Examples that produced a verdict (run or cached), and how many of them passed. */
  judged: number;
  passed: number;
  latencyMs: readonly number[];
  ttftMs: readonly number[];
}

/**
 * Checks a contract's budgets. When `passRate` is not set, every example must pass (1.0): a
 * failing example fails the contract unless the contract says how many may fail.
 */
export function checkBudgets(budgets: Budgets | undefined, input: BudgetInput): BudgetCheck[] {
  const b = budgets ?? {};
  const out: BudgetCheck[] = [];
  const passLimit = b.passRate ?? 1;
  if (input.judged === 0) out.push({ name: 'passRate', limit: passLimit, status: 'unmeasured', message: 'no example was judged' });
  else {
    const rate = input.passed / input.judged;
    const ok = rate + 1e-12 >= passLimit;
    out.push({ name: 'passRate', limit: passLimit, actual: rate, status: ok ? 'pass' : 'fail', message: `pass rate ${pct(rate)} (${input.passed}/${input.judged}) ${ok ? '≥' : '<'} ${pct(passLimit)}${b.passRate === undefined ? ' (no passRate budget: every example must pass)' : ''}` });
  }
  const lat = distribution(input.latencyMs);
  const ttft = distribution(input.ttftMs);
  const ms = (name: BudgetName, limit: number | undefined, d: Distribution | undefined, key: 'p50' | 'p95', label: string) => {
    if (limit === undefined) return;
    if (!d) {
      out.push({ name, limit, status: 'unmeasured', message: `${label}: not measured (every example was cached or skipped; run with --no-cache to measure)` });
      return;
    }
    const v = d[key];
    out.push({ name, limit, actual: v, status: v <= limit ? 'pass' : 'fail', message: `${label} ${fmtMs(v)} ${v <= limit ? '≤' : '>'} ${fmtMs(limit)} (n=${d.n})` });
  };
  ms('p50Ms', b.p50Ms, lat, 'p50', 'p50 latency');
  ms('p95Ms', b.p95Ms, lat, 'p95', 'p95 latency');
  ms('ttftP95Ms', b.ttftP95Ms, ttft, 'p95', 'p95 time to first token');
  return out;
}

export function pct(x: number): string {
  return `${(x * 100).toFixed(x === 1 || x === 0 ? 0 : 1)}%`;
}

export function fmtMs(x: number): string {
  return x >= 100 ? `${Math.round(x)} ms` : x >= 10 ? `${x.toFixed(1)} ms` : `${x.toFixed(2)} ms`;
}

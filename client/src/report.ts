/**
 * How run results read: one line per verdict (notifications), a summary per contract, and the
 * Markdown of "Show Report" and "Compare Quantizations". Pure.
 */
import type { ExampleRunResult, ExampleStatus, RunExamplesResult } from '../../server/src/protocol';

const ICON: Record<ExampleStatus, string> = {
  pass: '✓',
  'invalid-json': '✗',
  truncated: '✗',
  'schema-mismatch': '✗',
  'wrong-value': '✗',
  error: '⚠',
  skipped: '–',
  cancelled: '–',
};

/** Judged and not passed: the model answered, the answer was wrong. */
export function isFailure(status: ExampleStatus): boolean {
  return status === 'invalid-json' || status === 'truncated' || status === 'schema-mismatch' || status === 'wrong-value';
}

/** Latency is never served from cache: a cached verdict says so instead of a number. */
export function latencyText(r: Pick<ExampleRunResult, 'latencyMs' | 'cached'>): string {
  if (r.cached) return 'cached';
  return r.latencyMs !== undefined ? `${Math.round(r.latencyMs)} ms` : 'no latency';
}

/** `✓ double charge · pass · 312 ms · Q8_0` (+ the first problem when it did not pass). */
export function verdictLine(r: ExampleRunResult): string {
  const parts = [`${ICON[r.status]} ${r.example}`, r.status, latencyText(r), r.quantization];
  if (r.status === 'pass') return parts.join(' · ');
  const first = r.problems?.[0];
  const why = r.message ?? (first ? `${first.pointer ? `${first.pointer}: ` : ''}${first.message}` : undefined);
  return parts.join(' · ') + (why ? ` — ${why}` : '');
}

export function summaryLine(res: RunExamplesResult): string {
  const s = res.summary;
  if (res.results.length === 0 && res.reason) return `${res.contract}: nothing ran — ${res.reason}`;
  const errored = res.results.filter((r) => r.status === 'error').length;
  const ran = s.total - s.skipped;
  const parts = [`${res.contract}: ${s.passed}/${ran} passed`];
  if (s.failed) parts.push(`${s.failed} failed`);
  if (errored) parts.push(`${errored} errored`);
  if (s.skipped) parts.push(`${s.skipped} skipped`);
  if (s.p50Ms !== undefined) parts.push(`p50 ${Math.round(s.p50Ms)} ms`);
  if (s.p95Ms !== undefined) parts.push(`p95 ${Math.round(s.p95Ms)} ms`);
  return parts.join(' · ');
}

export function allPassed(res: RunExamplesResult): boolean {
  return res.results.length > 0 && res.results.every((r) => r.status === 'pass' || r.status === 'skipped');
}

/** Nearest-rank percentile of the values (undefined when there are none). */
export function percentile(values: number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function ms(v: number | undefined): string {
  return v === undefined ? '' : `${Math.round(v)} ms`;
}

/** "Show Report": every contract's latest results. */
export function reportMarkdown(results: RunExamplesResult[], now: Date = new Date()): string {
  const out = ['# Prompt Contracts report', '', `_${now.toISOString()}_`, ''];
  if (results.length === 0) {
    out.push('No runs yet in this window. Run an example (code lens, or **Prompt Contracts: Run All Examples in File**) and open the report again.', '');
    return out.join('\n');
  }
  for (const res of results) {
    out.push(`## ${res.contract}`, '', `${summaryLine(res)}  `, `\`${res.uri}\``, '');
    if (res.results.length === 0) continue;
    out.push('| Example | Quantization | Verdict | Latency | TTFT | Tokens | Why |', '|---|---|---|---|---|---|---|');
    for (const r of res.results) {
      const problems = (r.problems ?? []).map((p) => `${p.pointer ? `\`${p.pointer}\` ` : ''}${p.message}`);
      const why = (problems.length ? problems : r.status === 'pass' || !r.message ? [] : [r.message]).join('; ');
      out.push(`| ${cell(r.example)} | ${cell(r.quantization)} | ${ICON[r.status]} ${r.status} | ${latencyText(r)} | ${ms(r.ttftMs)} | ${r.tokens ?? ''} | ${cell(why)} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

export interface QuantizationRow {
  quantization: string;
  passed: number;
  failed: number;
  errored: number;
  p50Ms?: number;
  p95Ms?: number;
  meanTokens?: number;
}

export function compareQuantizations(res: RunExamplesResult): { rows: QuantizationRow[]; disagreements: { example: string; verdicts: Record<string, ExampleStatus> }[] } {
  const byQuant = new Map<string, ExampleRunResult[]>();
  for (const r of res.results) byQuant.set(r.quantization, [...(byQuant.get(r.quantization) ?? []), r]);
  const rows: QuantizationRow[] = [...byQuant].map(([quantization, rs]) => {
    const lat = rs.filter((r) => r.latencyMs !== undefined && !r.cached).map((r) => r.latencyMs!);
    const toks = rs.filter((r) => r.tokens !== undefined).map((r) => r.tokens!);
    const row: QuantizationRow = {
      quantization,
      passed: rs.filter((r) => r.status === 'pass').length,
      failed: rs.filter((r) => isFailure(r.status)).length,
      errored: rs.filter((r) => r.status === 'error').length,
    };
    const p50 = percentile(lat, 50);
    const p95 = percentile(lat, 95);
    if (p50 !== undefined) row.p50Ms = p50;
    if (p95 !== undefined) row.p95Ms = p95;
    if (toks.length) row.meanTokens = toks.reduce((a, b) => a + b, 0) / toks.length;
    return row;
  });
  const byExample = new Map<string, Record<string, ExampleStatus>>();
  for (const r of res.results) byExample.set(r.example, { ...(byExample.get(r.example) ?? {}), [r.quantization]: r.status });
  const disagreements = [...byExample]
    .filter(([, v]) => new Set(Object.values(v)).size > 1)
    .map(([example, verdicts]) => ({ example, verdicts }));
  return { rows, disagreements };
}

export function comparisonMarkdown(res: RunExamplesResult): string {
  const { rows, disagreements } = compareQuantizations(res);
  const out = [`# ${res.contract}: quantizations compared`, '', `\`${res.uri}\``, ''];
  if (rows.length === 0) return [...out, 'No results.', ''].join('\n');
  out.push('| Quantization | Passed | Failed | Errors | p50 | p95 | Mean tokens |', '|---|---|---|---|---|---|---|');
  for (const r of rows) {
    out.push(`| ${cell(r.quantization)} | ${r.passed} | ${r.failed} | ${r.errored} | ${ms(r.p50Ms)} | ${ms(r.p95Ms)} | ${r.meanTokens === undefined ? '' : r.meanTokens.toFixed(1)} |`);
  }
  out.push('');
  if (rows.length === 1) out.push('The contract declares one quantization: add more under `model.quantizations` to compare them.', '');
  if (disagreements.length) {
    const quants = rows.map((r) => r.quantization);
    out.push('## Examples where the quantizations disagree', '', `| Example | ${quants.map(cell).join(' | ')} |`, `|---|${quants.map(() => '---|').join('')}`);
    for (const d of disagreements) out.push(`| ${cell(d.example)} | ${quants.map((q) => d.verdicts[q] ?? '').join(' | ')} |`);
    out.push('');
  } else if (rows.length > 1) {
    out.push('Every example got the same verdict on every quantization.', '');
  }
  return out.join('\n');
}

/**
 * How run results read: one line per verdict (notifications), a summary per contract, and the
 * notification texts. Pure (the report itself is core/report-html.ts).
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

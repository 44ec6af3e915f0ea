/** The latest run results per contract in this window, for "Show Report". Pure. */
import type { ExampleRunResult, RunExamplesResult } from '../../server/src/protocol';
import { distribution } from '../../server/src/core/stats';
import { isFailure } from './report';

export class ResultsMemory {
  private readonly byUri = new Map<string, RunExamplesResult>();
  private readonly listeners = new Set<(res: RunExamplesResult) => void>();

  /** Called after each record (the report view redraws). */
  onDidRecord(listener: (res: RunExamplesResult) => void): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => void this.listeners.delete(listener) };
  }

  /** A finished run: its results replace the same examples × quantizations of an earlier run. */
  record(res: RunExamplesResult): void {
    this.merge(res);
    for (const l of this.listeners) l(res);
  }

  private merge(res: RunExamplesResult): void {
    const before = this.byUri.get(res.uri);
    if (!before) {
      this.byUri.set(res.uri, res);
      return;
    }
    const key = (r: ExampleRunResult) => `${r.quantization}\u0000${r.example}`;
    const merged = new Map(before.results.map((r) => [key(r), r]));
    for (const r of res.results) merged.set(key(r), r);
    this.byUri.set(res.uri, { ...res, results: [...merged.values()], summary: summarize([...merged.values()]) });
  }

  all(): RunExamplesResult[] {
    return [...this.byUri.values()].sort((a, b) => a.contract.localeCompare(b.contract));
  }

  get(uri: string): RunExamplesResult | undefined {
    return this.byUri.get(uri);
  }
}

export function summarize(results: ExampleRunResult[]): RunExamplesResult['summary'] {
  const lat = results.filter((r) => r.latencyMs !== undefined && !r.cached).map((r) => r.latencyMs!);
  const s: RunExamplesResult['summary'] = {
    total: results.length,
    passed: results.filter((r) => r.status === 'pass').length,
    failed: results.filter((r) => isFailure(r.status)).length,
    skipped: results.filter((r) => r.status === 'skipped').length,
  };
  const d = distribution(lat);
  if (d) {
    s.p50Ms = d.p50;
    s.p95Ms = d.p95;
  }
  return s;
}

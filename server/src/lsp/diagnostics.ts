import { DiagnosticSeverity, DiagnosticTag, type Connection, type Diagnostic } from 'vscode-languageserver/node';
import type { CheckResult } from '../core/check';
import type { Finding } from '../core/findings';
import { DIAGNOSTIC_SOURCE } from '../protocol';
import { crashed, isContract, type Analysis, type ContractDocuments } from './documents';
import type { ArrivedVersions } from './transport';

const SEVERITY = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  information: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
} as const;

const UNNECESSARY = new Set(['placeholder-unused-input']);

export function toDiagnostic(f: Finding, r: CheckResult): Diagnostic {
  const d: Diagnostic = { range: r.lines.range(f.start, f.end), severity: SEVERITY[f.severity], code: f.code, source: DIAGNOSTIC_SOURCE, message: f.message };
  if (f.data) d.data = f.data;
  if (UNNECESSARY.has(f.code)) d.tags = [DiagnosticTag.Unnecessary];
  return d;
}

const SLOW_CHECK_MS = 1000;

/**
 * Publishes diagnostics as the user types: one check per burst of changes, of the latest version
 * only. A pending check is replaced by the next change; a check that finds a newer version already
 * read from the wire skips itself, because that change schedules its own. Findings from example
 * runs (`extra`) are merged into the same publication, placed in the same version.
 */
export class DiagnosticsScheduler {
  private pending = new Map<string, () => void>();
  private published = new Map<string, { version: number; result: CheckResult }>();

  constructor(
    private readonly connection: Connection,
    private readonly docs: ContractDocuments,
    private readonly arrived: ArrivedVersions | undefined,
    private readonly debounceMs: () => number,
    private readonly extra: (a: Analysis) => Finding[] = () => [],
  ) {}

  /** Publishes the current version again (its run results changed); a pending check already will. */
  refresh(uri: string): void {
    this.published.delete(uri);
    if (this.pending.has(uri)) return;
    const t = setImmediate(() => this.run(uri));
    this.pending.set(uri, () => clearImmediate(t));
  }

  schedule(uri: string): void {
    this.pending.get(uri)?.();
    const delay = this.debounceMs();
    if (delay > 0) {
      const t = setTimeout(() => this.run(uri), delay);
      this.pending.set(uri, () => clearTimeout(t));
    } else {
      const t = setImmediate(() => this.run(uri));
      this.pending.set(uri, () => clearImmediate(t));
    }
  }

  /** Re-checks every open contract (settings or a referenced file changed). */
  scheduleAll(): void {
    for (const doc of this.docs.contracts()) this.schedule(doc.uri);
  }

  clear(uri: string): void {
    this.pending.get(uri)?.();
    this.pending.delete(uri);
    this.published.delete(uri);
    void this.connection.sendDiagnostics({ uri, diagnostics: [] });
  }

  private run(uri: string): void {
    this.pending.delete(uri);
    const doc = this.docs.get(uri);
    if (!doc || !isContract(doc)) return;
    const newer = this.arrived?.latest(uri);
    if (newer !== undefined && newer > doc.version) return;
    let diagnostics: Diagnostic[];
    try {
      const a = this.docs.analysis(doc);
      const last = this.published.get(uri);
      if (last && last.version === a.version && last.result === a.result) return;
      this.published.set(uri, { version: a.version, result: a.result });
      if (a.ms > SLOW_CHECK_MS) this.connection.console.warn(`checking ${uri} took ${Math.round(a.ms)} ms`);
      diagnostics = a.result.findings.map((f) => toDiagnostic(f, a.result));
      try {
        for (const f of this.extra(a)) diagnostics.push(toDiagnostic(f, a.result));
      } catch (e) {
        this.connection.console.error(`placing run results of ${uri} failed: ${(e as Error)?.stack ?? String(e)}`);
      }
    } catch (e) {
      this.connection.console.error(`checking ${uri} failed: ${(e as Error)?.stack ?? String(e)}`);
      const r = crashed(doc.getText(), e);
      diagnostics = r.findings.map((f) => toDiagnostic(f, r));
    }
    void this.connection.sendDiagnostics({ uri, version: doc.version, diagnostics });
  }
}

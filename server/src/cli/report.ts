import { CODES, type CodeInfo, type Severity } from '../core/codes';
import type { Range } from '../core/findings';

/**
 * The report model every output format writes. `contracts check` fills `findings`; `contracts run`
 * adds one case per example (with the example's range) and may add findings of its own codes,
 * described in `rules` so that SARIF can name them.
 */
export interface Report {
  tool: { name: string; version: string };
  /** Absolute folder the file paths are relative to (SARIF's %SRCROOT%). */
  root: string;
  files: FileReport[];
  /** Codes that are in neither the core's table nor the CLI's. */
  rules?: Record<string, CodeInfo>;
}

export interface FileReport {
  /** Path relative to `root`, with forward slashes. */
  file: string;
  findings: ReportFinding[];
  /** Test cases (examples) run for this file. Absent for a static check. */
  cases?: ReportCase[];
  durationMs?: number;
}

export interface ReportFinding {
  code: string;
  severity: Severity;
  message: string;
  /** 0-based, end exclusive, UTF-16 characters: as in LSP. */
  range: Range;
}

export type CaseStatus = 'passed' | 'failed' | 'error' | 'skipped';

export interface ReportCase {
  name: string;
  status: CaseStatus;
  /** One line: why it failed, errored or was skipped. */
  message?: string;
  /** Longer text (diff, model output); goes to JUnit's failure body. */
  details?: string;
  /** Where the case is written (the example's line). */
  range?: Range;
  durationMs?: number;
}

/** One output format. Writers are pure: report in, text out. */
export interface Writer {
  readonly format: Format;
  write(report: Report): string;
}

export const FORMATS = ['text', 'json', 'junit', 'sarif'] as const;
export type Format = (typeof FORMATS)[number];

/** Codes the CLI itself reports (file system problems the core never sees). */
export const CLI_CODES = {
  'file-unreadable': {
    severity: 'error',
    title: 'File cannot be read',
    explain: 'The file could not be opened or read (permission denied, a broken symbolic link, or not a regular file), so it was not checked.',
  },
} as const satisfies Record<string, CodeInfo>;

export function ruleInfo(report: Report, code: string): CodeInfo | undefined {
  return (CODES as Record<string, CodeInfo>)[code] ?? (CLI_CODES as Record<string, CodeInfo>)[code] ?? report.rules?.[code];
}

/** Every rule a report can refer to: the core's, the CLI's, the report's own, and any code met without a description. */
export function allRules(report: Report): { id: string; info: CodeInfo }[] {
  const out = new Map<string, CodeInfo>();
  for (const [id, info] of Object.entries(CODES)) out.set(id, info);
  for (const [id, info] of Object.entries(CLI_CODES)) out.set(id, info);
  for (const [id, info] of Object.entries(report.rules ?? {})) out.set(id, info);
  for (const f of report.files) {
    for (const x of f.findings) if (!out.has(x.code)) out.set(x.code, { severity: x.severity, title: x.code, explain: x.code });
  }
  return [...out].map(([id, info]) => ({ id, info }));
}

export interface Summary {
  files: number;
  errors: number;
  warnings: number;
  information: number;
  hints: number;
  cases: Record<CaseStatus, number>;
}

export function summarize(report: Report): Summary {
  const s: Summary = { files: report.files.length, errors: 0, warnings: 0, information: 0, hints: 0, cases: { passed: 0, failed: 0, error: 0, skipped: 0 } };
  for (const f of report.files) {
    for (const x of f.findings) {
      if (x.severity === 'error') s.errors++;
      else if (x.severity === 'warning') s.warnings++;
      else if (x.severity === 'information') s.information++;
      else s.hints++;
    }
    for (const c of f.cases ?? []) s.cases[c.status]++;
  }
  return s;
}

function comparePos(a: Range, b: Range): number {
  return a.start.line - b.start.line || a.start.character - b.start.character || a.end.line - b.end.line || a.end.character - b.end.character;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const ORDER: Record<Severity, number> = { error: 0, warning: 1, information: 2, hint: 3 };

/** Sorts files by path and findings by position (stable for equal positions), in place. */
export function sortReport(report: Report): Report {
  report.files.sort((a, b) => compareText(a.file, b.file));
  for (const f of report.files) f.findings.sort((a, b) => comparePos(a.range, b.range) || ORDER[a.severity] - ORDER[b.severity] || compareText(a.code, b.code));
  return report;
}

export function plural(n: number, one: string, many = one + 's'): string {
  return `${n} ${n === 1 ? one : many}`;
}

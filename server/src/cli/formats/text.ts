import type { Severity } from '../../core/codes';
import type { Range } from '../../core/findings';
import { plural, summarize, type Report, type Summary, type Writer } from '../report';

export interface TextOptions {
  /** ANSI colors; the caller decides (a TTY and no NO_COLOR). */
  color?: boolean;
}

const ANSI = { reset: '\x1b[0m', bold: '\x1b[1m', dim: '\x1b[2m', red: '\x1b[31m', yellow: '\x1b[33m', blue: '\x1b[34m', cyan: '\x1b[36m', green: '\x1b[32m', gray: '\x1b[90m' };

const SEVERITY_COLOR: Record<Severity, string> = { error: ANSI.red, warning: ANSI.yellow, information: ANSI.blue, hint: ANSI.gray };

/** Makes text safe for a terminal: one line, no control characters (so a contract cannot send escape sequences). */
export function oneLine(s: string): string {
  return s.replace(/\r\n|\r|\n/g, ' ').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** `path:line:col` with 1-based line and column, as tsc and eslint print them. */
export function location(file: string, range: Range | undefined): string {
  return range ? `${file}:${range.start.line + 1}:${range.start.character + 1}` : file;
}

export function summaryLine(s: Summary): string {
  let line = `${plural(s.errors, 'error')}, ${plural(s.warnings, 'warning')}, ${s.information} information`;
  if (s.hints) line += `, ${plural(s.hints, 'hint')}`;
  line += ` in ${plural(s.files, 'file')}`;
  const c = s.cases;
  if (c.passed + c.failed + c.error + c.skipped > 0) {
    line += `; examples: ${c.passed} passed, ${c.failed} failed`;
    if (c.error) line += `, ${c.error} errored`;
    if (c.skipped) line += `, ${c.skipped} skipped`;
  }
  return line;
}

/** `path:line:col severity message [code]`, one line per finding, then a summary line. */
export function textWriter(opts: TextOptions = {}): Writer {
  const paint = (code: string, s: string) => (opts.color ? code + s + ANSI.reset : s);
  return {
    format: 'text',
    write(report: Report): string {
      const lines: string[] = [];
      for (const f of report.files) {
        const file = oneLine(f.file);
        for (const x of f.findings) {
          lines.push(`${paint(ANSI.bold, location(file, x.range))} ${paint(SEVERITY_COLOR[x.severity], x.severity)} ${oneLine(x.message)} ${paint(ANSI.dim, `[${x.code}]`)}`);
        }
        for (const c of f.cases ?? []) {
          if (c.status !== 'failed' && c.status !== 'error') continue;
          const label = c.status === 'failed' ? paint(ANSI.red, 'failed') : paint(ANSI.red, 'errored');
          lines.push(`${paint(ANSI.bold, location(file, c.range))} ${label} ${oneLine(c.name)}${c.message ? `: ${oneLine(c.message)}` : ''}`);
        }
      }
      const s = summarize(report);
      const summary = summaryLine(s);
      lines.push(s.errors || s.cases.failed || s.cases.error ? paint(ANSI.red + ANSI.bold, summary) : s.warnings ? paint(ANSI.yellow, summary) : paint(ANSI.green, summary));
      return lines.join('\n') + '\n';
    },
  };
}

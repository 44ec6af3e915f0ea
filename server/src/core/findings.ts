import { CODES, type Code, type Severity } from './codes';

/** A finding located by UTF-16 offsets into the document text (the same unit LSP uses). */
export interface Finding {
  code: Code | string;
  severity: Severity;
  message: string;
  start: number;
  end: number;
  /** Extra machine-readable facts (JSON Pointer, expected/actual values, ...). */
  data?: Record<string, unknown>;
}

export function finding(code: Code, start: number, end: number, message: string, data?: Record<string, unknown>): Finding {
  const f: Finding = { code, severity: CODES[code].severity, message, start, end };
  if (data) f.data = data;
  return f;
}

export interface Position { line: number; character: number }
export interface Range { start: Position; end: Position }

/** Converts offsets to 0-based line/character positions. The one place where that happens. */
export class LineIndex {
  private starts: number[] | undefined;
  constructor(private readonly text: string) {}

  private lineStarts(): number[] {
    if (!this.starts) {
      const s = [0];
      const t = this.text;
      for (let i = 0; i < t.length; i++) {
        const c = t.charCodeAt(i);
        if (c === 10) s.push(i + 1);
        else if (c === 13) {
          if (t.charCodeAt(i + 1) === 10) i++;
          s.push(i + 1);
        }
      }
      this.starts = s;
    }
    return this.starts;
  }

  position(offset: number): Position {
    const s = this.lineStarts();
    const o = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid]! <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, character: o - s[lo]! };
  }

  offset(pos: Position): number {
    const s = this.lineStarts();
    if (pos.line >= s.length) return this.text.length;
    const lineStart = s[Math.max(0, pos.line)]!;
    const next = pos.line + 1 < s.length ? s[pos.line + 1]! : this.text.length;
    return Math.min(lineStart + Math.max(0, pos.character), next);
  }

  range(start: number, end: number): Range {
    return { start: this.position(start), end: this.position(Math.max(start, end)) };
  }
}

const ORDER: Record<Severity, number> = { error: 0, warning: 1, information: 2, hint: 3 };

export function sortFindings(fs: Finding[]): Finding[] {
  return fs.sort((a, b) => a.start - b.start || ORDER[a.severity] - ORDER[b.severity] || a.end - b.end || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0));
}

import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Strict traces: every run of an example appends one JSON line to `<traceDir>/<YYYY-MM-DD>.jsonl`
 * (UTC day). Each record is written with a single `write` on a descriptor opened with O_APPEND,
 * so concurrent writers never interleave inside a line. A process killed in the middle of a write
 * can leave a torn last line: the writer starts a new line before its first record when the file
 * does not end with one, and the reader skips lines that do not parse.
 */

export interface TraceRecord {
  time: string;
  contract: string;
  file?: string;
  example: string;
  /** 0-based index of the measured repeat; -1 for a warm-up run. */
  repeat: number;
  warmup?: boolean;
  model: { path: string; id: string; quantization: string; synthetic: boolean; label: string };
  decoding: 'constrained' | 'free';
  prompt: string;
  output: string;
  parsed?: unknown;
  verdict: string;
  message: string;
  stopReason: string;
  timings?: { ttftMs: number; totalMs: number; tokensPerSecond: number; promptTokens: number; reusedPromptTokens: number; outputTokens: number };
}

export class TraceWriter {
  private warned = false;
  /** Open descriptors per file: one open per run, one write per record. */
  private readonly fds = new Map<string, number>();
  /** Set when the trace folder cannot be written: one clear line, the run goes on. */
  warning?: string;

  constructor(readonly dir: string) {}

  fileFor(date: Date): string {
    return path.join(this.dir, `${date.toISOString().slice(0, 10)}.jsonl`);
  }

  private open(file: string): number {
    let fd = this.fds.get(file);
    if (fd !== undefined) return fd;
    fs.mkdirSync(this.dir, { recursive: true });
    fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o644);
    // A torn last line from a killed writer: end it, so that it costs only itself.
    if (!endsWithNewline(fd)) fs.writeSync(fd, '\n');
    this.fds.set(file, fd);
    return fd;
  }

  append(record: TraceRecord): boolean {
    if (this.warned) return false;
    try {
      const fd = this.open(this.fileFor(new Date(record.time)));
      const buf = Buffer.from(JSON.stringify(record) + '\n', 'utf8');
      const n = fs.writeSync(fd, buf, 0, buf.length);
      if (n !== buf.length) throw new Error(`short write (${n} of ${buf.length} bytes)`);
      return true;
    } catch (e) {
      this.warned = true;
      this.warning = `cannot write traces to ${this.dir}: ${(e as NodeJS.ErrnoException).code ?? ''} ${(e as Error).message}`.replace(/\s+/g, ' ').trim() + '; verdicts are still reported';
      return false;
    }
  }

  close(): void {
    for (const fd of this.fds.values()) {
      try {
        fs.closeSync(fd);
      } catch {
        // already closed
      }
    }
    this.fds.clear();
  }
}

function endsWithNewline(fd: number): boolean {
  const size = fs.fstatSync(fd).size;
  if (size === 0) return true;
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, size - 1);
  return b[0] === 0x0a;
}

export interface TraceRead {
  records: TraceRecord[];
  /** Lines that did not parse (a torn line from a killed process), with their 1-based numbers. */
  skipped: number[];
}

export function parseTraceText(text: string): TraceRead {
  const records: TraceRecord[] = [];
  const skipped: number[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    try {
      const v = JSON.parse(line) as unknown;
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) records.push(v as TraceRecord);
      else skipped.push(i + 1);
    } catch {
      skipped.push(i + 1);
    }
  });
  return { records, skipped };
}

export function readTraceFile(file: string): TraceRead {
  return parseTraceText(fs.readFileSync(file, 'utf8'));
}

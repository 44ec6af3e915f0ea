import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkContract, decodeContract, DEFAULT_MAX_FILE_BYTES } from '../core/check';
import type { Finding, Range } from '../core/findings';
import type { CheckHost } from '../core/output-schema';
import type { FileReport, ReportFinding } from './report';

export interface CheckFilesOptions {
  /** Workspace root: `$ref` files are read only below it, and report paths are relative to it. */
  root: string;
  maxFileBytes?: number;
  coverage?: boolean;
}

const FILE_START: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };

/** Reads `$ref` files from disk, each once per process; never a FIFO or a folder. */
export function diskHost(root: string): CheckHost {
  const cache = new Map<string, string | undefined>();
  return {
    workspaceRoot: root,
    readFile(abs) {
      if (cache.has(abs)) return cache.get(abs);
      let text: string | undefined;
      try {
        if (fs.statSync(abs).isFile()) text = fs.readFileSync(abs, 'utf8');
      } catch {
        text = undefined;
      }
      cache.set(abs, text);
      return text;
    },
    realpath: (p) => fs.realpathSync(p),
  };
}

export function relativePath(root: string, abs: string): string {
  const rel = path.relative(root, abs);
  return (path.sep === '/' ? rel : rel.split(path.sep).join('/')) || path.basename(abs);
}

function unreadable(message: string): ReportFinding {
  return { code: 'file-unreadable', severity: 'error', message, range: FILE_START };
}

function describeError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'EACCES':
    case 'EPERM':
      return 'cannot read this file: permission denied';
    case 'ENOENT':
      return 'cannot read this file: it is a broken symbolic link or was removed';
    case 'ELOOP':
      return 'cannot read this file: too many levels of symbolic links (a link loop)';
    case 'EISDIR':
      return 'this is a folder, not a contract file';
    default:
      return `cannot read this file: ${err.message ?? String(e)}`;
  }
}

/** Reads and checks one file. Never throws: every problem becomes a finding. */
export function checkFile(abs: string, host: CheckHost, opts: CheckFilesOptions): FileReport {
  const file = relativePath(opts.root, abs);
  const maxBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  let bytes: Buffer;
  try {
    const st = fs.statSync(abs);
    if (st.isDirectory()) return { file, findings: [unreadable('this is a folder, not a contract file')] };
    if (!st.isFile()) return { file, findings: [unreadable('not a regular file (a device, socket or pipe); it is not read')] };
    if (st.size > maxBytes) {
      const mb = (n: number) => (n / 1048576).toFixed(1);
      return { file, findings: [{ code: 'file-too-large', severity: 'error', message: `file is ${mb(st.size)} MB, over the ${mb(maxBytes)} MB limit; it is not checked`, range: FILE_START }] };
    }
    bytes = fs.readFileSync(abs);
  } catch (e) {
    return { file, findings: [unreadable(describeError(e))] };
  }
  const decoded = decodeContract(bytes);
  if ('finding' in decoded) return { file, findings: [toReport(decoded.finding, undefined)] };
  const result = checkContract(decoded.text, { file: abs, host, maxFileBytes: maxBytes, coverage: opts.coverage });
  return { file, findings: result.findings.map((f) => toReport(f, result.lines)) };
}

function toReport(f: Finding, lines: { range(start: number, end: number): Range } | undefined): ReportFinding {
  return { code: f.code, severity: f.severity, message: f.message, range: lines ? lines.range(f.start, f.end) : FILE_START };
}

export function checkFiles(files: readonly string[], opts: CheckFilesOptions): FileReport[] {
  const host = diskHost(opts.root);
  return files.map((f) => checkFile(f, host, opts));
}

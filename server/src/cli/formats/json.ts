import type { Report, Writer } from '../report';

/** One array of `{ file, range, severity, code, message }`, in report order (sorted by file, then position). */
export function jsonWriter(): Writer {
  return {
    format: 'json',
    write(report: Report): string {
      const out = report.files.flatMap((f) => f.findings.map((x) => ({ file: f.file, range: x.range, severity: x.severity, code: x.code, message: x.message })));
      return JSON.stringify(out, null, 2) + '\n';
    },
  };
}

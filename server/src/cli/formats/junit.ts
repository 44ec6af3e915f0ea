import type { CaseStatus, FileReport, ReportFinding, Report, Writer } from '../report';
import { location } from './text';

// XML 1.0 cannot carry these at all, not even as character references: they are written as `\xNN`.
const INVALID_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function visible(c: string): string {
  const n = c.charCodeAt(0);
  return n >= 0xd800 && n <= 0xdfff ? '\ufffd' : `\\x${n.toString(16).padStart(2, '0')}`;
}

export function xmlText(s: string): string {
  return s.replace(INVALID_XML, visible).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function xmlAttr(s: string): string {
  return xmlText(s).replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\t/g, '&#9;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;');
}

function attrs(a: Record<string, string | number | undefined>): string {
  return Object.entries(a)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${xmlAttr(String(v))}"`)
    .join('');
}

function seconds(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : (ms / 1000).toFixed(3);
}

function findingLine(file: string, x: ReportFinding): string {
  return `${location(file, x.range)} ${x.severity} ${x.message} [${x.code}]`;
}

interface Case {
  xml: string;
  status: CaseStatus;
}

function count(n: number, one: string): string {
  return `${n} ${one}${n === 1 ? '' : 's'}`;
}

/** The static check of one file as a test case: failed when it has errors; other findings go to system-out. */
function checkCase(f: FileReport): Case {
  const errors = f.findings.filter((x) => x.severity === 'error');
  const others = f.findings.filter((x) => x.severity !== 'error');
  let body = '';
  if (errors.length) {
    const message = `${count(errors.length, 'error')}: ${errors[0]!.message}`;
    body += `\n      <failure${attrs({ message, type: 'contract-check' })}>${xmlText(errors.map((x) => findingLine(f.file, x)).join('\n'))}</failure>`;
  }
  if (others.length) body += `\n      <system-out>${xmlText(others.map((x) => findingLine(f.file, x)).join('\n'))}</system-out>`;
  // `line` lets annotating reporters (GitHub actions that read JUnit) point at the first error.
  const line = errors.length ? errors[0]!.range.start.line + 1 : undefined;
  const open = `    <testcase${attrs({ classname: f.file, name: 'check', file: f.file, line, time: seconds(f.durationMs) })}`;
  return { xml: body ? `${open}>${body}\n    </testcase>` : `${open}/>`, status: errors.length ? 'failed' : 'passed' };
}

function exampleCase(f: FileReport, c: NonNullable<FileReport['cases']>[number]): Case {
  const line = c.range ? c.range.start.line + 1 : undefined;
  const open = `    <testcase${attrs({ classname: f.file, name: c.name, file: f.file, line, time: seconds(c.durationMs) })}`;
  let body = '';
  if (c.status === 'failed') body = `<failure${attrs({ message: c.message ?? 'failed', type: 'example-failed' })}>${xmlText(c.details ?? c.message ?? '')}</failure>`;
  else if (c.status === 'error') body = `<error${attrs({ message: c.message ?? 'error', type: 'example-error' })}>${xmlText(c.details ?? c.message ?? '')}</error>`;
  else if (c.status === 'skipped') body = `<skipped${attrs({ message: c.message })}/>`;
  return { xml: body ? `${open}>\n      ${body}\n    </testcase>` : `${open}/>`, status: c.status };
}

/**
 * JUnit XML as GitHub, GitLab and Jenkins read it: one <testsuite> per file. A static check is one
 * `check` case per file; a run adds one case per example (the `check` case is kept when there are
 * findings, so static errors are never hidden by passing examples).
 */
export function junitWriter(): Writer {
  return {
    format: 'junit',
    write(report: Report): string {
      const total = { tests: 0, failures: 0, errors: 0, skipped: 0 };
      const suites: string[] = [];
      for (const f of report.files) {
        const cases: Case[] = [];
        if (!f.cases || f.findings.length) cases.push(checkCase(f));
        for (const c of f.cases ?? []) cases.push(exampleCase(f, c));
        const n = {
          tests: cases.length,
          failures: cases.filter((c) => c.status === 'failed').length,
          errors: cases.filter((c) => c.status === 'error').length,
          skipped: cases.filter((c) => c.status === 'skipped').length,
        };
        total.tests += n.tests;
        total.failures += n.failures;
        total.errors += n.errors;
        total.skipped += n.skipped;
        suites.push(`  <testsuite${attrs({ name: f.file, ...n, time: seconds(f.durationMs) })}>\n${cases.map((c) => c.xml).join('\n')}\n  </testsuite>`);
      }
      const head = `<testsuites${attrs({ name: report.tool.name, ...total })}`;
      return `<?xml version="1.0" encoding="UTF-8"?>\n${suites.length ? `${head}>\n${suites.join('\n')}\n</testsuites>` : `${head}/>`}\n`;
    },
  };
}

/** The expectations marked in samples/broken: `# expect: code` on a line, or `# expect-line: N code`. */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const BROKEN_DIR = path.join(__dirname, '..', '..', 'samples', 'broken');

export interface BrokenCase {
  file: string;
  text: string;
  /** 0-based line → codes that must be reported there. */
  expect: { line: number; code: string }[];
  /** Codes that may appear besides the marked ones (`# allow: code`), e.g. a pattern is also ignored by decoding. */
  allow: string[];
}

export function brokenCases(): BrokenCase[] {
  return fs
    .readdirSync(BROKEN_DIR)
    .filter((f) => f.endsWith('.contract.yaml'))
    .sort()
    .map((f) => {
      const file = path.join(BROKEN_DIR, f);
      const text = fs.readFileSync(file, 'utf8');
      const expect: { line: number; code: string }[] = [];
      const allow: string[] = [];
      text.split(/\r?\n/).forEach((line, i) => {
        const at = /#\s*expect-line:\s*(\d+)\s+([a-z-]+)/.exec(line);
        if (at) expect.push({ line: Number(at[1]), code: at[2]! });
        const m = /#\s*expect:\s*([a-z-]+)\s*$/.exec(line);
        if (m) expect.push({ line: i, code: m[1]! });
        const a = /^#\s*allow:\s*([a-z-]+)/.exec(line);
        if (a) allow.push(a[1]!);
      });
      return { file, text, expect, allow };
    });
}

/** Compares reported (line, code) pairs with a case's marks: each mark hit, and the file's code nowhere else. */
export function brokenMismatches(c: BrokenCase, reported: { line: number; code: string; severity: string }[]): string[] {
  const problems: string[] = [];
  const name = path.basename(c.file);
  if (!c.expect.length) problems.push(`${name}: no expect markers`);
  for (const e of c.expect) {
    if (!reported.some((r) => r.line === e.line && r.code === e.code)) problems.push(`${name}: expected ${e.code} on line ${e.line + 1}, got ${reported.map((r) => `${r.code}@${r.line + 1}`).join(', ') || 'nothing'}`);
  }
  const codes = new Set(c.expect.map((e) => e.code));
  for (const r of reported) {
    if (codes.has(r.code) && !c.expect.some((e) => e.line === r.line && e.code === r.code)) problems.push(`${name}: ${r.code} also on unmarked line ${r.line + 1}`);
    if (!codes.has(r.code) && !c.allow.includes(r.code) && (r.severity === 'error' || r.severity === 'warning')) problems.push(`${name}: unexpected ${r.severity} ${r.code} on line ${r.line + 1}`);
  }
  return problems;
}

/**
 * What the end-to-end suites expect, read from the fixtures themselves so the suites never drift from
 * them: the `# expect: code` markers of samples/broken (see samples/broken/README.md), where examples
 * start, and what a verdict line looks like. Pure; shared by the code-server suite (Playwright) and
 * the in-host suite run by @vscode/test-electron.
 */
import { outlineOf } from '../../client/src/run-args';

/** Broken samples the UI suite opens: one per family of diagnostics. */
export const UI_BROKEN_SAMPLES = [
  'unknown-key',
  'wrong-type',
  'missing-field',
  'yaml-duplicate-key',
  'placeholder-malformed',
  'example-schema-mismatch',
] as const;

/** A clean sample no test runs (runs add `run-*` diagnostics to a contract). */
export const CLEAN_SAMPLE = 'route-query.contract.yaml';

/** The sample whose example the run tests click. */
export const RUN_SAMPLE = 'classify-complaint.contract.yaml';

export interface Marker {
  /** 0-based */
  line: number;
  code: string;
}

/** `# expect: code` at the end of a line, or `# expect-line: N code` (N 0-based) anywhere. */
export function markersOf(text: string): Marker[] {
  const out: Marker[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const at = /#\s*expect-line:\s*(\d+)\s+([a-z-]+)/.exec(line);
    if (at) out.push({ line: Number(at[1]), code: at[2]! });
    const m = /#\s*expect:\s*([a-z-]+)\s*$/.exec(line);
    if (m) out.push({ line: i, code: m[1]! });
  });
  return out;
}

/** 0-based line of the first example's `- name:` item, and its name. */
export function firstExample(text: string): { line: number; name: string } {
  const first = outlineOf(text).examples[0];
  if (!first) throw new Error('the contract has no examples');
  return { line: first.startLine, name: first.name };
}

/** 0-based line of the last example's `- name:` item, and its name. */
export function lastExample(text: string): { line: number; name: string } {
  const last = outlineOf(text).examples.at(-1);
  if (!last) throw new Error('the contract has no examples');
  return { line: last.startLine, name: last.name };
}

/** The 0-based line and column of the first `{{placeholder}}` name inside the prompt. */
export function firstPlaceholder(text: string): { line: number; character: number; name: string } {
  const lines = text.split(/\r?\n/);
  for (const [i, l] of lines.entries()) {
    const m = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/.exec(l);
    if (m && !l.trimStart().startsWith('#')) return { line: i, character: m.index + m[0].indexOf(m[1]!), name: m[1]! };
  }
  throw new Error('no placeholder');
}

/**
 * A verdict as the client shows it (client/src/report.ts verdictLine): `✓ name · pass · 312 ms · Q8_0`.
 * Any verdict counts, pass or not: the run tests check the wiring, not the model.
 */
export const VERDICT_WITH_LATENCY = /· (pass|invalid-json|truncated|schema-mismatch|wrong-value|error) · (\d+) ms ·/;

import type { ErrorObject } from 'ajv';
import type { MatchMode } from './contract-schema';
import { pointerSegments, toPointer } from './schema-walk';

/**
 * Judging one model output against an example. Pure: no model, no I/O.
 *
 * Order of the checks (the first that applies wins): error → truncated → invalid-json →
 * schema-mismatch → wrong-value → pass.
 */

export const VERDICT_KINDS = ['pass', 'invalid-json', 'truncated', 'schema-mismatch', 'wrong-value', 'error', 'skipped', 'cancelled'] as const;
export type VerdictKind = (typeof VERDICT_KINDS)[number];

/** The verdicts that fail an example (the others pass it or did not judge it). */
export const FAILURE_KINDS = ['wrong-value', 'schema-mismatch', 'invalid-json', 'truncated', 'error'] as const satisfies readonly VerdictKind[];
export type FailureKind = (typeof FAILURE_KINDS)[number];

export function isFailure(kind: string): kind is FailureKind {
  return (FAILURE_KINDS as readonly string[]).includes(kind);
}

/** Why generation stopped. `whitespace`: stopped early on a run of whitespace (see WHITESPACE_RUN). */
export type StopReason = 'eog' | 'maxTokens' | 'whitespace' | 'abort' | 'error';

export interface SchemaErrorDetail {
  /** JSON Pointer into the output ("" is the whole output). */
  pointer: string;
  keyword: string;
  message: string;
  schemaPath: string;
  params: Record<string, unknown>;
}

export interface FieldDiff {
  /** JSON Pointer into `expected` (where the field is written in the contract). */
  pointer: string;
  /** JSON Pointer into the output, when it differs from `pointer` (subset matching of array items). */
  actualPointer?: string;
  /** missing: expected but absent; unexpected: in the output but not expected (exact mode); different: both present, unequal; unmatched-item: no output array item matches this expected item (subset). */
  kind: 'missing' | 'unexpected' | 'different' | 'unmatched-item';
  expected?: unknown;
  actual?: unknown;
}

export interface Verdict {
  kind: VerdictKind;
  /** One line for people. */
  message: string;
  schemaErrors?: SchemaErrorDetail[];
  diffs?: FieldDiff[];
  /** For invalid-json: offset of the parse error in the output, when known. */
  offset?: number;
}

export interface JudgeInput {
  /** Raw text the model produced. */
  output: string;
  stopReason: StopReason;
  /** Set when the run failed (the runner threw). */
  error?: string;
  validate: ((value: unknown) => boolean) & { errors?: ErrorObject[] | null };
  expected: unknown;
  match: MatchMode;
  ignore: readonly string[];
  maxTokens?: number;
}

export interface Judged {
  verdict: Verdict;
  /** The parsed output, when it parsed. */
  parsed?: unknown;
  parsedOk: boolean;
}

/** Generation stops when the output ends with this many whitespace characters in a row. */
export const WHITESPACE_RUN = 32;

/** Length of the run of whitespace at the end of a text. */
export function trailingWhitespaceRun(text: string): number {
  let n = 0;
  for (let i = text.length - 1; i >= 0; i--) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 10 || c === 13 || c === 9) n++;
    else break;
  }
  return n;
}

export function judge(input: JudgeInput): Judged {
  if (input.error !== undefined) return { verdict: { kind: 'error', message: input.error }, parsedOk: false };
  if (input.stopReason === 'abort') return { verdict: { kind: 'cancelled', message: 'the run was cancelled' }, parsedOk: false };

  const parsed = parseJsonStrict(input.output);
  const stopped = input.stopReason === 'maxTokens' || input.stopReason === 'whitespace';
  if (stopped && (!parsed.ok || !selfDelimiting(parsed.value))) {
    const why =
      input.stopReason === 'maxTokens'
        ? `stopped at maxTokens${input.maxTokens ? ` (${input.maxTokens})` : ''} before the JSON was complete`
        : `stopped on a run of ${trailingWhitespaceRun(input.output)} whitespace characters before the JSON was complete (runaway whitespace)`;
    return { verdict: { kind: 'truncated', message: why }, parsedOk: false };
  }
  if (!parsed.ok) {
    return { verdict: { kind: 'invalid-json', message: `the output is not valid JSON: ${parsed.message}${fenceHint(input.output)}`, offset: parsed.offset }, parsedOk: false };
  }
  const value = parsed.value;

  let ok: boolean;
  try {
    ok = input.validate(value);
  } catch (e) {
    return { verdict: { kind: 'error', message: `validating the output failed: ${(e as Error).message}` }, parsed: value, parsedOk: true };
  }
  if (!ok) {
    const schemaErrors = (input.validate.errors ?? []).map(toSchemaError);
    const first = schemaErrors[0];
    const msg = first ? `${first.pointer || '/'} ${first.message}${schemaErrors.length > 1 ? ` (+${schemaErrors.length - 1} more)` : ''}` : 'the output does not match the schema';
    return { verdict: { kind: 'schema-mismatch', message: `schema mismatch: ${msg}`, schemaErrors }, parsed: value, parsedOk: true };
  }

  const diffs = compareValues(input.expected, value, input.match, input.ignore);
  if (diffs.length) {
    return { verdict: { kind: 'wrong-value', message: `wrong value: ${describeDiff(diffs[0]!)}${diffs.length > 1 ? ` (+${diffs.length - 1} more)` : ''}`, diffs }, parsed: value, parsedOk: true };
  }
  return { verdict: { kind: 'pass', message: 'pass' }, parsed: value, parsedOk: true };
}

function toSchemaError(e: ErrorObject): SchemaErrorDetail {
  const params = (e.params ?? {}) as Record<string, unknown>;
  let pointer = e.instancePath;
  // ajv reports a missing property on its parent object; name the property itself.
  if (e.keyword === 'required' && typeof params.missingProperty === 'string') pointer = pointer + toPointer([params.missingProperty]);
  if (e.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') pointer = pointer + toPointer([params.additionalProperty]);
  const allowed = params.allowedValues as unknown[] | undefined;
  return { pointer, keyword: e.keyword, message: `${e.message ?? e.keyword}${allowed ? `: ${allowed.map((a) => JSON.stringify(a)).join(', ')}` : ''}`, schemaPath: e.schemaPath, params };
}

function describeDiff(d: FieldDiff): string {
  const at = d.pointer || '/';
  switch (d.kind) {
    case 'missing':
      return `${at} is missing (expected ${short(d.expected)})`;
    case 'unexpected':
      return `${d.actualPointer ?? at} is not expected (got ${short(d.actual)})`;
    case 'unmatched-item':
      return `no item of the output's array matches ${at} (${short(d.expected)})`;
    default:
      return `${at}: expected ${short(d.expected)}, got ${short(d.actual)}`;
  }
}

function short(v: unknown): string {
  const s = JSON.stringify(v);
  if (s === undefined) return String(v);
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/** A value whose end is unambiguous: a stop at maxTokens right after it did not cut it. */
function selfDelimiting(v: unknown): boolean {
  return typeof v !== 'number';
}

function fenceHint(text: string): string {
  const t = text.trim();
  if (/^```/.test(t)) return ' (it is wrapped in a Markdown code fence)';
  const brace = t.search(/[{[]/);
  if (brace > 0) return ` (it starts with text before the JSON: ${short(t.slice(0, Math.min(brace, 30)))})`;
  return '';
}

// --- strict JSON -----------------------------------------------------------------------------------

export type ParseResult = { ok: true; value: unknown } | { ok: false; message: string; offset?: number };

/**
 * JSON.parse, plus what it lets through: duplicate keys (JSON.parse keeps the last silently),
 * numbers that overflow a double, and an empty output. Surrounding whitespace is allowed; nothing else is stripped (no code fences).
 */
export function parseJsonStrict(text: string): ParseResult {
  if (text.trim() === '') return { ok: false, message: 'the output is empty', offset: 0 };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /position (\d+)/.exec(msg);
    return { ok: false, message: msg.replace(/^JSON\.parse: /, ''), offset: m ? Number(m[1]) : undefined };
  }
  const dup = duplicateKey(text);
  if (dup) return { ok: false, message: `duplicate key ${JSON.stringify(dup.key)} at offset ${dup.offset}`, offset: dup.offset };
  const inf = nonFinite(value);
  if (inf !== undefined) return { ok: false, message: `the number at ${inf || '/'} is too large for a double (it reads as Infinity)` };
  return { ok: true, value };
}

/** Pointer of the first number that overflowed to ±Infinity (the grammar allows 16-digit exponents). */
function nonFinite(value: unknown): string | undefined {
  const stack: { v: unknown; p: string[] }[] = [{ v: value, p: [] }];
  while (stack.length) {
    const { v, p } = stack.pop()!;
    if (typeof v === 'number' && !Number.isFinite(v)) return toPointer(p);
    if (Array.isArray(v)) v.forEach((x, i) => stack.push({ v: x, p: [...p, String(i)] }));
    else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) stack.push({ v: x, p: [...p, k] });
  }
  return undefined;
}

/** Finds the first duplicate key in a text that is already known to be valid JSON (iterative). */
function duplicateKey(text: string): { key: string; offset: number } | undefined {
  // Stack of scopes: a Set of keys for objects, null for arrays.
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        const key = JSON.parse(text.slice(start, j + 1)) as string;
        if (top.has(key)) return { key, offset: start };
        top.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === '{') {
      stack.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      stack.push(null);
      expectKey = false;
    } else if (c === '}' || c === ']') {
      stack.pop();
      expectKey = false;
    } else if (c === ',') {
      expectKey = stack[stack.length - 1] instanceof Set;
    }
  }
  return undefined;
}

// --- comparing with expected -----------------------------------------------------------------------

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const has = (o: Record<string, unknown>, k: string) => Object.prototype.hasOwnProperty.call(o, k);

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObj(a)) {
    if (!isObj(b)) return false;
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => has(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/** A trie of ignore pointers: a path is ignored when a pointer names it or one of its parents. */
class IgnoreSet {
  private readonly paths: string[][];
  constructor(pointers: readonly string[]) {
    this.paths = pointers.map((p) => pointerSegments(p));
  }
  ignores(path: readonly string[]): boolean {
    return this.paths.some((p) => p.length <= path.length && p.every((s, i) => s === path[i]));
  }
}

/**
 * Differences between expected and actual under a match mode:
 * - exact: deep equality; extra output fields and array items are differences.
 * - fields: every field written in expected must equal the output's (recursively); extra output
 *   fields are ignored; arrays must have the same length and are compared item by item.
 * - subset: like fields, and each expected array item must match a distinct item anywhere in the
 *   output's array (extra output items allowed).
 * `ignore` pointers (and everything below them) are never compared; they name paths in expected.
 */
export function compareValues(expected: unknown, actual: unknown, match: MatchMode, ignore: readonly string[] = []): FieldDiff[] {
  const ig = new IgnoreSet(ignore);
  const out: FieldDiff[] = [];
  cmp(expected, actual, [], [], match, ig, out);
  return out;
}

function cmp(exp: unknown, act: unknown, path: string[], actPath: string[], mode: MatchMode, ig: IgnoreSet, out: FieldDiff[]): void {
  if (ig.ignores(path)) return;
  const diff = (d: Omit<FieldDiff, 'pointer'>) => {
    const pointer = toPointer(path);
    const ap = toPointer(actPath);
    out.push({ pointer, ...(ap !== pointer ? { actualPointer: ap } : {}), ...d });
  };
  if (isObj(exp) && isObj(act)) {
    for (const k of Object.keys(exp)) {
      if (ig.ignores([...path, k])) continue;
      if (!has(act, k)) {
        out.push({ pointer: toPointer([...path, k]), ...(toPointer(actPath) !== toPointer(path) ? { actualPointer: toPointer([...actPath, k]) } : {}), kind: 'missing', expected: exp[k] });
        continue;
      }
      cmp(exp[k], act[k], [...path, k], [...actPath, k], mode, ig, out);
    }
    if (mode === 'exact') {
      for (const k of Object.keys(act)) {
        if (has(exp, k) || ig.ignores([...path, k])) continue;
        const p = toPointer([...path, k]);
        const ap = toPointer([...actPath, k]);
        out.push({ pointer: p, ...(ap !== p ? { actualPointer: ap } : {}), kind: 'unexpected', actual: act[k] });
      }
    }
    return;
  }
  if (Array.isArray(exp) && Array.isArray(act)) {
    if (mode === 'subset') {
      subsetArray(exp, act, path, actPath, ig, out);
      return;
    }
    const n = Math.max(exp.length, act.length);
    for (let i = 0; i < n; i++) {
      const p = [...path, String(i)];
      const ap = [...actPath, String(i)];
      if (ig.ignores(p)) continue;
      if (i >= act.length) out.push({ pointer: toPointer(p), kind: 'missing', expected: exp[i] });
      else if (i >= exp.length) out.push({ pointer: toPointer(p), kind: 'unexpected', actual: act[i] });
      else cmp(exp[i], act[i], p, ap, mode, ig, out);
    }
    return;
  }
  if (!deepEqual(exp, act)) diff({ kind: 'different', expected: exp, actual: act });
}

/** Each expected item must match a distinct output item (bipartite matching, Kuhn's algorithm). */
function subsetArray(exp: unknown[], act: unknown[], path: string[], actPath: string[], ig: IgnoreSet, out: FieldDiff[]): void {
  const fits: boolean[][] = exp.map((e, i) => act.map((a, j) => {
    const d: FieldDiff[] = [];
    cmp(e, a, [...path, String(i)], [...actPath, String(j)], 'subset', ig, d);
    return d.length === 0;
  }));
  const owner: number[] = new Array(act.length).fill(-1);
  const tryAssign = (i: number, seen: boolean[]): boolean => {
    for (let j = 0; j < act.length; j++) {
      if (!fits[i]![j] || seen[j]) continue;
      seen[j] = true;
      if (owner[j] === -1 || tryAssign(owner[j]!, seen)) {
        owner[j] = i;
        return true;
      }
    }
    return false;
  };
  for (let i = 0; i < exp.length; i++) {
    const p = [...path, String(i)];
    if (ig.ignores(p)) continue;
    if (tryAssign(i, new Array(act.length).fill(false))) continue;
    // Unmatched: report it, with the field-level differences against the closest output item.
    let best: FieldDiff[] | undefined;
    for (let j = 0; j < act.length; j++) {
      const d: FieldDiff[] = [];
      cmp(exp[i], act[j], p, [...actPath, String(j)], 'subset', ig, d);
      if (!best || d.length < best.length) best = d;
    }
    out.push({ pointer: toPointer(p), kind: 'unmatched-item', expected: exp[i] });
    if (best && isObj(exp[i])) out.push(...best);
  }
}

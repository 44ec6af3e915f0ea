import * as path from 'node:path';
import type { ErrorObject } from 'ajv';
import { isMap, isScalar, isSeq, visit, type Node } from 'yaml';
import type { z } from 'zod';
import { CODES, type Code } from './codes';
import { ContractSchema, formatKeysAt, type Contract } from './contract-schema';
import { IncrementalYaml } from './incremental-yaml';
import { finding, LineIndex, sortFindings, type Finding } from './findings';
import { compileSchema, prepareSchema, type CheckHost, type CompiledSchema, type PreparedSchema } from './output-schema';
import { GrammarError, toGbnfJsonSchema, type GrammarGap } from './grammar-schema';
import { scanPlaceholders, placeholderNames } from './placeholders';
import { instancePath, pointerSegments, toPointer, valuesAt, walkSchema } from './schema-walk';
import { didYouMean, quote } from './text';
import { cleanYamlMessage, firstLine, keyRange, locate, MAX_ALIAS_COUNT, MAX_DEPTH, nodeRange, parseYaml, valueRange, type Path, type YamlSource } from './yaml-source';

export const DEFAULT_MAX_FILE_BYTES = 8 * 1024 * 1024;

export interface CheckOptions {
  /** Absolute path of the contract file (for `$ref` resolution and messages). */
  file?: string;
  host: CheckHost;
  maxFileBytes?: number;
  /** Information-level coverage hints (default on). */
  coverage?: boolean;
  /** A per-document incremental parser (the language server keeps one per open file). */
  yaml?: IncrementalYaml;
}

export interface RawExample {
  index: number;
  name?: string;
  input: Record<string, unknown>;
  expected: unknown;
  hasExpected: boolean;
}

export interface CheckResult {
  text: string;
  findings: Finding[];
  lines: LineIndex;
  source?: YamlSource;
  /** The document as plain data (when it parsed). */
  value?: unknown;
  /** The validated contract, with defaults applied (when the structure is valid). */
  contract?: Contract;
  /** Examples as far as they could be read, even when the structure has errors elsewhere. */
  examples: RawExample[];
  /** The compiled output schema (when it compiled). */
  schema?: CompiledSchema;
  prepared?: PreparedSchema;
  /** Placeholder names the prompt uses. */
  placeholders: string[];
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Decodes a file's bytes; a binary file yields a finding instead of text. */
export function decodeContract(bytes: Uint8Array): { text: string } | { finding: Finding } {
  if (bytes.includes(0)) return { finding: finding('file-binary', 0, 0, 'this is a binary file (it contains NUL bytes), not a YAML contract') };
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return { text: text.charCodeAt(0) === 0xfeff ? text.slice(1) : text };
  } catch {
    return { finding: finding('file-binary', 0, 0, 'the file is not valid UTF-8 text') };
  }
}

/** Runs every static check on one contract. Pure apart from reading `$ref` files through the host. Never throws. */
export function checkContract(text: string, opts: CheckOptions): CheckResult {
  const lines = new LineIndex(text);
  const result: CheckResult = { text, findings: [], lines, examples: [], placeholders: [] };
  try {
    runChecks(text, opts, result);
  } catch (e) {
    // A bug must surface as a finding, never as a silent "no problems".
    const [s, en] = firstLine(text);
    result.findings.push(finding('internal-error', s, en, `the checker failed on this file: ${(e as Error)?.stack?.split('\n').slice(0, 3).join(' | ') ?? String(e)}`));
  }
  sortFindings(result.findings);
  return result;
}

function runChecks(text: string, opts: CheckOptions, r: CheckResult): void {
  const out = r.findings;
  const maxBytes = opts.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
  const bytes = text.length > maxBytes / 4 ? Buffer.byteLength(text, 'utf8') : text.length;
  if (bytes > maxBytes) {
    const [s, e] = firstLine(text);
    out.push(finding('file-too-large', s, e, `file is ${(bytes / 1048576).toFixed(1)} MB, over the ${(maxBytes / 1048576).toFixed(1)} MB limit; it is not checked`));
    return;
  }
  if (text.includes('\u0000')) {
    out.push(finding('file-binary', 0, 0, 'this is a binary file (it contains NUL bytes), not a YAML contract'));
    return;
  }
  const src = opts.yaml ? opts.yaml.parse(text) : parseYaml(text);
  r.source = src;
  let fatal = false;
  for (const err of src.doc.errors) {
    const [s, e] = err.pos;
    if (err.code === 'DUPLICATE_KEY') {
      const { key, end } = duplicateKeyRange(text, s);
      out.push(finding('yaml-duplicate-key', s, Math.max(e, end), key ? `duplicate key \`${key}\`: YAML keeps only one of the values` : 'duplicate key: YAML keeps only one of the values'));
    } else if (err.code === 'RESOURCE_EXHAUSTION') {
      fatal = true;
      const [fs, fe] = firstLine(text);
      out.push(finding('yaml-too-deep', fs, fe, 'the document nests too deeply to be read (it exhausted the parser\'s stack); it is not checked further'));
      break;
    } else if (err.code === 'MULTIPLE_DOCS') {
      fatal = true;
      out.push(finding('yaml-syntax', s, Math.max(e, s + 3), 'a contract file holds one YAML document: remove this `---` and what follows, or move it to its own file'));
    } else {
      fatal = true;
      out.push(finding('yaml-syntax', s, Math.max(e, s + 1), cleanYamlMessage(err.message)));
    }
  }
  for (const w of src.doc.warnings) {
    if (w.code === 'TAG_RESOLVE_FAILED') out.push(finding('yaml-syntax', w.pos[0], w.pos[1], cleanYamlMessage(w.message)));
  }
  if (fatal) return;
  if (!scanNodes(src, out)) return;
  let value: unknown;
  try {
    value = src.doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    const msg = (e as Error).message;
    if (/alias/i.test(msg)) {
      const at = firstAlias(src) ?? firstLine(text);
      out.push(finding('yaml-alias-limit', at[0], at[1], `expanding the aliases would exceed ${MAX_ALIAS_COUNT} nodes (an alias bomb?); the file is not checked further`));
    } else if (e instanceof RangeError) {
      const [s, en] = firstLine(text);
      out.push(finding('yaml-too-deep', s, en, 'the document nests too deeply to be read'));
    } else throw e;
    return;
  }
  r.value = value;
  if (!isObj(value)) {
    const [s, e] = value === null || value === undefined ? firstLine(text) : valueRange(src, []);
    out.push(finding('wrong-type', s, e, value === null || value === undefined ? 'the file is empty: a contract is a mapping with `contract`, `prompt`, `output` and `examples`' : `a contract is a mapping, not ${describeType(value)}`));
    return;
  }

  // Structure (zod is the source of truth).
  const parsed = ContractSchema.safeParse(value);
  if (parsed.success) r.contract = parsed.data;
  else for (const issue of parsed.error.issues) structureFindings(src, value, issue, out);

  r.examples = readExamples(value);
  checkExampleNames(src, value, r.examples, out);

  // Placeholders.
  const prompt = isObj(value.prompt) ? value.prompt : {};
  const used = new Set<string>();
  for (const part of ['system', 'user'] as const) {
    const t = prompt[part];
    if (typeof t !== 'string') continue;
    for (const n of placeholderNames(t)) used.add(n);
    malformedPlaceholders(src, ['prompt', part], out);
  }
  r.placeholders = [...used];
  if (typeof prompt.user === 'string') checkExampleInputs(src, r.examples, used, out);

  // Output schema.
  const output = isObj(value.output) ? value.output : undefined;
  if (output && (isObj(output.schema) || typeof output.schema === 'boolean')) {
    checkOutputSchema(src, output.schema, r, opts, out);
  }
  if (opts.coverage !== false && output && isObj(output.schema) && !isExternalRoot(output.schema)) {
    coverageHints(src, output.schema, r, prompt, out);
  }
}

function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `a ${typeof v}`;
}

/** The key the parser flagged: from the error position to the end of the key on that line. */
function duplicateKeyRange(text: string, s: number): { key: string; end: number } {
  const lineEnd = text.indexOf('\n', s) < 0 ? text.length : text.indexOf('\n', s);
  const m = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^:#\n]*?)\s*:(\s|$)/.exec(text.slice(s, lineEnd));
  const key = (m ? m[1]! : text.slice(s, lineEnd)).trim();
  return { key, end: s + Math.max(1, key.length) };
}

/** Walks the node tree once: nesting depth and numbers JSON cannot hold. Returns false when too deep. */
function scanNodes(src: YamlSource, out: Finding[]): boolean {
  const stack: { n: unknown; d: number }[] = [{ n: src.doc.contents, d: 0 }];
  while (stack.length) {
    const { n, d } = stack.pop()!;
    if (d > MAX_DEPTH) {
      const r = nodeRange(n as Node) ?? firstLine(src.text);
      out.push(finding('yaml-too-deep', r[0], Math.min(r[1], r[0] + 1), `the document nests deeper than ${MAX_DEPTH} levels; it is not checked further`));
      return false;
    }
    if (isMap(n)) {
      const seen = new Set<string>();
      for (const p of n.items) {
        stack.push({ n: p.key, d: d + 1 }, { n: p.value, d: d + 1 });
        if (!isScalar(p.key)) continue;
        const k = String(p.key.value);
        if (!seen.has(k)) {
          seen.add(k);
          continue;
        }
        const r = nodeRange(p.key)!;
        out.push(finding('yaml-duplicate-key', r[0], r[1], `duplicate key \`${k}\`: YAML keeps only one of the values`));
      }
    }
    else if (isSeq(n)) for (const i of n.items) stack.push({ n: i, d: d + 1 });
    else if (isScalar(n) && typeof n.value === 'number') {
      const v = n.value;
      const r = nodeRange(n)!;
      if (!Number.isFinite(v)) {
        const raw = src.text.slice(r[0], r[1]);
        if (!/^[-+]?\.(inf|nan)$/i.test(raw)) out.push(finding('number-precision', r[0], r[1], `${raw} is too large for a JSON number (it would become ${v}); quote it if it is not a quantity`));
      } else if (Number.isInteger(v) && !Number.isSafeInteger(v)) {
        out.push(finding('number-precision', r[0], r[1], `${src.text.slice(r[0], r[1])} is beyond 2^53 and loses precision (it reads as ${v}); quote it if it is an identifier`));
      }
    }
  }
  return true;
}

function firstAlias(src: YamlSource): [number, number] | undefined {
  let at: [number, number] | undefined;
  visit(src.doc, {
    Alias(_, node) {
      if (node.range) at = [node.range[0], node.range[1]];
      return visit.BREAK;
    },
  });
  return at;
}

function valueAt(value: unknown, p: readonly PropertyKey[]): unknown {
  let cur = value;
  for (const s of p) {
    if (Array.isArray(cur)) cur = cur[Number(s)];
    else if (isObj(cur)) cur = Object.prototype.hasOwnProperty.call(cur, s as string) ? cur[s as string] : undefined;
    else return undefined;
  }
  return cur;
}

function zodPath(p: readonly PropertyKey[]): (string | number)[] {
  return p.map((s) => (typeof s === 'number' ? s : String(s)));
}

function structureFindings(src: YamlSource, value: unknown, issue: z.core.$ZodIssue, out: Finding[]): void {
  const p = zodPath(issue.path);
  const where = p.length ? `\`${p.join('.')}\`` : 'the contract';
  if (issue.code === 'unrecognized_keys') {
    const allowed = formatKeysAt(p.map((s) => (typeof s === 'number' ? 0 : s))).map((k) => k.key);
    for (const key of issue.keys) {
      const [s, e] = keyRange(src, [...p, key]);
      const near = didYouMean(key, allowed);
      out.push(finding('unknown-key', s, e, `unknown key \`${key}\` in ${p.length ? where : 'the contract'}${near ? `; did you mean \`${near}\`?` : allowed.length ? `; expected one of ${allowed.map((a) => '`' + a + '`').join(', ')}` : ''}`, { key, suggestion: near }));
    }
    return;
  }
  const actual = valueAt(value, p);
  if (actual === undefined) {
    const parent = p.slice(0, -1);
    const [s, e] = keyRange(src, parent);
    const name = String(p[p.length - 1]);
    const desc = formatKeysAt(parent.map((x) => (typeof x === 'number' ? 0 : x))).find((k) => k.key === name)?.description;
    out.push(finding('missing-field', s, e, `missing required field \`${name}\`${parent.length ? ` in \`${parent.join('.')}\`` : ''}${desc ? ` — ${desc}` : ''}`, { field: name }));
    return;
  }
  const [s, e] = valueRange(src, p);
  if (issue.code === 'invalid_type' || (issue.code === 'invalid_union' && p[p.length - 1] !== 'expected')) {
    const expected = issue.code === 'invalid_type' ? issue.expected : 'a mapping or a boolean';
    out.push(finding('wrong-type', s, e, `${where} must be ${article(expected)}, not ${describeType(actual)}`));
    return;
  }
  if (issue.code === 'invalid_value') {
    const near = typeof actual === 'string' ? didYouMean(actual, issue.values.map(String)) : undefined;
    out.push(finding('invalid-value', s, e, `${where} must be one of ${issue.values.map((v) => '`' + String(v) + '`').join(', ')}${near ? `; did you mean \`${near}\`?` : ''}`, { suggestion: near }));
    return;
  }
  out.push(finding('invalid-value', s, e, `${where}: ${issue.message}`));
}

function article(t: string): string {
  const map: Record<string, string> = { object: 'a mapping', array: 'a list', string: 'a string', number: 'a number', boolean: 'a boolean (true or false)', int: 'an integer', record: 'a mapping' };
  return map[t] ?? t;
}

function readExamples(value: Record<string, unknown>): RawExample[] {
  const ex = value.examples;
  if (!Array.isArray(ex)) return [];
  return ex.map((e, index) => {
    const o = isObj(e) ? e : {};
    return {
      index,
      name: typeof o.name === 'string' ? o.name : undefined,
      input: isObj(o.input) ? o.input : {},
      expected: o.expected,
      hasExpected: Object.prototype.hasOwnProperty.call(o, 'expected'),
    };
  });
}

function checkExampleNames(src: YamlSource, value: Record<string, unknown>, examples: RawExample[], out: Finding[]): void {
  if (examples.length === 0) {
    const has = Object.prototype.hasOwnProperty.call(value, 'examples');
    const [s, e] = has ? keyRange(src, ['examples']) : keyRange(src, []);
    out.push(finding('examples-empty', s, e, 'this contract has no examples: add input/expected pairs so it can be run and measured'));
    return;
  }
  const seen = new Map<string, number>();
  for (const ex of examples) {
    if (ex.name === undefined) continue;
    const first = seen.get(ex.name);
    if (first !== undefined) {
      const [s, e] = valueRange(src, ['examples', ex.index, 'name']);
      const line = new LineIndex(src.text).position(valueRange(src, ['examples', first, 'name'])[0]).line + 1;
      out.push(finding('example-duplicate-name', s, e, `example name \`${ex.name}\` is already used by example ${first + 1} (line ${line}); names identify results and baselines`, { first }));
    } else seen.set(ex.name, ex.index);
  }
}

function malformedPlaceholders(src: YamlSource, p: Path, out: Finding[]): void {
  const l = locate(src, p);
  const r = nodeRange(l.node);
  if (!r) return;
  const raw = src.text.slice(r[0], r[1]);
  for (const t of scanPlaceholders(raw)) {
    if (t.problem) out.push(finding('placeholder-malformed', r[0] + t.start, r[0] + t.end, `malformed placeholder: ${t.problem}`));
  }
}

/** Source ranges of each placeholder name in the prompt (for "go to" and completion). */
export function placeholderRanges(src: YamlSource): { name: string; start: number; end: number }[] {
  const out: { name: string; start: number; end: number }[] = [];
  for (const part of ['system', 'user']) {
    const r = nodeRange(locate(src, ['prompt', part]).node);
    if (!r) continue;
    for (const t of scanPlaceholders(src.text.slice(r[0], r[1]))) if (t.name) out.push({ name: t.name, start: r[0] + t.start, end: r[0] + t.end });
  }
  return out;
}

function checkExampleInputs(src: YamlSource, examples: RawExample[], used: Set<string>, out: Finding[]): void {
  const usedList = [...used];
  for (const ex of examples) {
    const keys = Object.keys(ex.input);
    const missing = usedList.filter((n) => !Object.prototype.hasOwnProperty.call(ex.input, n));
    if (missing.length) {
      const hasInput = locate(src, ['examples', ex.index, 'input']).key;
      const [s, e] = hasInput ? keyRange(src, ['examples', ex.index, 'input']) : valueRange(src, ['examples', ex.index, 'name']);
      const hints = missing.map((m) => {
        const near = didYouMean(m, keys.filter((k) => !used.has(k)));
        return `\`${m}\`${near ? ` (\`${near}\` looks like a misspelling of it)` : ''}`;
      });
      out.push(finding('placeholder-missing-input', s, e, `the prompt uses ${missing.map((m) => `{{${m}}}`).join(', ')} but ${ex.name ? `example \`${ex.name}\`` : 'this example'} has no input ${hints.join(', ')}`, { missing }));
    }
    for (const k of keys) {
      if (used.has(k)) continue;
      const [s, e] = keyRange(src, ['examples', ex.index, 'input', k]);
      const near = didYouMean(k, usedList);
      out.push(finding('placeholder-unused-input', s, e, `input \`${k}\` is never used: the prompt has no {{${k}}}${near ? `; did you mean \`${near}\`?` : ''}`, { key: k }));
    }
  }
}

function isExternalRoot(schema: Record<string, unknown>): boolean {
  return typeof schema.$ref === 'string' && !schema.$ref.startsWith('#');
}

const SCHEMA_BASE: Path = ['output', 'schema'];

export const MAX_SCHEMA_NODES = 5000;

function checkOutputSchema(src: YamlSource, schema: unknown, r: CheckResult, opts: CheckOptions, out: Finding[]): void {
  let nodes = 0;
  walkSchema(schema, () => void nodes++, MAX_SCHEMA_NODES + 1);
  if (nodes > MAX_SCHEMA_NODES) {
    const [s, e] = keyRange(src, SCHEMA_BASE);
    out.push(finding('schema-too-large', s, e, `the output schema has more than ${MAX_SCHEMA_NODES.toLocaleString('en')} subschemas; it is not compiled and examples are not validated against it`));
    return;
  }
  const prepared = prepareSchema(schema, opts.file, opts.host);
  r.prepared = prepared;
  for (const p of prepared.problems) {
    const [s, e] = valueRange(src, [...SCHEMA_BASE, ...p.at]);
    out.push(finding(p.code, s, e, p.message));
  }
  const decoding = isObj(r.value) && isObj(r.value.model) ? r.value.model.decoding : undefined;
  if (decoding !== 'free') grammarCoverage(src, schema, prepared, out);
  const compiled = compileSchema(prepared);
  if (!compiled.ok) {
    for (const i of compiled.issues) {
      const [s, e] = i.at.length ? keyRangeOrValue(src, [...SCHEMA_BASE, ...i.at]) : keyRange(src, SCHEMA_BASE);
      out.push(finding(i.code, s, e, i.message));
    }
    return;
  }
  r.schema = compiled.compiled;
  for (const i of compiled.compiled.issues) {
    const [s, e] = i.at.length ? keyRangeOrValue(src, [...SCHEMA_BASE, ...i.at]) : keyRange(src, SCHEMA_BASE);
    out.push(finding(i.code, s, e, i.message));
  }
  for (const ex of r.examples) {
    if (!ex.hasExpected) continue;
    let errors: ErrorObject[];
    try {
      const ok = compiled.compiled.validate(ex.expected);
      errors = ok ? [] : [...(compiled.compiled.validate.errors ?? [])];
    } catch (e) {
      if (e instanceof RangeError) {
        const [s, en] = keyRange(src, SCHEMA_BASE);
        out.push(finding('schema-recursive', s, en, 'validating an example recursed without end: the schema has a `$ref` cycle that never consumes data'));
        return;
      }
      throw e;
    }
    for (const err of closestBranch(errors)) exampleError(src, ex, err, out);
  }
}

function keyRangeOrValue(src: YamlSource, p: Path): [number, number] {
  const l = locate(src, p);
  if (l.key) return nodeRange(l.key)!;
  return valueRange(src, p);
}

/** For oneOf/anyOf failures keep only the errors of the branch that came closest. */
export function closestBranch(errors: ErrorObject[]): ErrorObject[] {
  let result = errors;
  for (const combo of errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf')) {
    const prefix = combo.schemaPath + '/';
    const byBranch = new Map<string, ErrorObject[]>();
    for (const e of result) {
      if (!e.schemaPath.startsWith(prefix)) continue;
      const branch = e.schemaPath.slice(prefix.length).split('/')[0]!;
      byBranch.set(branch, [...(byBranch.get(branch) ?? []), e]);
    }
    if (byBranch.size < 2) continue;
    const best = [...byBranch.entries()].sort((a, b) => a[1].length - b[1].length)[0]![0];
    result = result.filter((e) => !e.schemaPath.startsWith(prefix) || e.schemaPath.startsWith(prefix + best + '/') || (e === combo));
    if (combo.params && (combo.params as { passingSchemas?: unknown }).passingSchemas == null) {
      result = result.filter((e) => e !== combo);
    }
  }
  return result;
}

function exampleError(src: YamlSource, ex: RawExample, err: ErrorObject, out: Finding[]): void {
  const base: Path = ['examples', ex.index, 'expected'];
  const ip = instancePath(ex.expected, err.instancePath);
  const ptr = err.instancePath || '/';
  const who = ex.name ? `example \`${ex.name}\`` : `example ${ex.index + 1}`;
  const params = err.params as Record<string, unknown>;
  let range: [number, number];
  let msg: string;
  if (err.keyword === 'required') {
    range = keyRange(src, [...base, ...ip]);
    const prop = String(params.missingProperty);
    msg = `${who}: expected ${ptr === '/' ? '' : ptr + ' '}is missing required property \`${prop}\` (${toPointer([...ip, prop])})`;
  } else if (err.keyword === 'additionalProperties') {
    const prop = String(params.additionalProperty);
    range = keyRange(src, [...base, ...ip, prop]);
    msg = `${who}: ${toPointer([...ip, prop])} is not allowed by the schema (additionalProperties is false)`;
  } else {
    range = valueRange(src, [...base, ...ip]);
    const allowed = params.allowedValues as unknown[] | undefined;
    const actual = valueAt(ex.expected, ip);
    const near = allowed && typeof actual === 'string' ? didYouMean(actual, allowed.filter((a): a is string => typeof a === 'string')) : undefined;
    msg = `${who}: ${ptr} ${err.message}${allowed ? `: ${allowed.map((a) => quote(a)).join(', ')}` : ''}${err.keyword === 'enum' || err.keyword === 'const' ? ` (got ${quote(actual)})` : ''}${near ? `; did you mean ${quote(near)}?` : ''}`;
  }
  out.push(finding('example-schema-mismatch', range[0], range[1], msg, { pointer: err.instancePath, keyword: err.keyword, schemaPath: err.schemaPath }));
}

// --- what constrained decoding ignores ----------------------------------------------------------

const NOT_ENFORCED_WHY: Record<string, string> = {
  pattern: 'decoding may produce any string (within minLength/maxLength)',
  minimum: 'decoding may produce any number',
  maximum: 'decoding may produce any number',
  exclusiveMinimum: 'decoding may produce any number',
  exclusiveMaximum: 'decoding may produce any number',
  multipleOf: 'decoding may produce any number',
  format: 'decoding may produce any string (only date, time and date-time are enforced)',
  patternProperties: 'decoding only produces the properties listed in `properties`',
  propertyNames: 'decoding only produces the properties listed in `properties`',
  minProperties: 'decoding emits exactly the properties listed in `properties`',
  maxProperties: 'decoding emits exactly the properties listed in `properties`',
  uniqueItems: 'decoding may repeat items',
  contains: 'decoding may produce arrays without such an item',
  minContains: 'decoding may produce arrays without such items',
  maxContains: 'decoding may produce arrays with more such items',
};

/**
 * What the decoding grammar will not enforce, from the very conversion the runtime uses
 * (core/grammar-schema.ts), plus two ways it differs from JSON Schema: every listed property is
 * always generated, and an object without `additionalProperties` is closed.
 */
type GrammarGapFinding = { doc: string; at: (string | number)[]; code: Code; message: string };

const gapCache = new Map<string, GrammarGapFinding[]>();

export function grammarGaps(prepared: Pick<PreparedSchema, 'schema' | 'externals'> & { json?: string }): GrammarGapFinding[] {
  // Schemas without file refs are keyed by their text: a thousand contracts sharing one schema convert it once.
  const key = prepared.externals.size === 0 ? (prepared.json ?? JSON.stringify(prepared.schema)) : undefined;
  const hit = key === undefined ? undefined : gapCache.get(key);
  if (hit) return hit;
  const out = computeGrammarGaps(prepared);
  if (key !== undefined) {
    if (gapCache.size > 256) gapCache.delete(gapCache.keys().next().value!);
    gapCache.set(key, out);
  }
  return out;
}

function computeGrammarGaps(prepared: Pick<PreparedSchema, 'schema' | 'externals'>): GrammarGapFinding[] {
  const out: GrammarGapFinding[] = [];
  let gaps: GrammarGap[];
  try {
    gaps = toGbnfJsonSchema(prepared).gaps;
  } catch (e) {
    if (e instanceof GrammarError) return out; // a schema no value satisfies: every example fails validation anyway
    throw e;
  }
  for (const g of gaps) {
    const at = g.at.map((x) => (/^\d+$/.test(x) ? Number(x) : x));
    const kw = g.keyword;
    const why = NOT_ENFORCED_WHY[kw] ?? (g.detail.includes('next to $ref') ? 'keywords beside `$ref` are not part of decoding' : g.detail === 'allOf $ref' ? 'an `allOf` member that is a `$ref` is not merged into decoding' : 'decoding ignores this condition');
    const name = kw === 'if' ? '`if`/`then`/`else`' : `\`${g.detail.startsWith('format ') ? g.detail : kw}\``;
    if (kw === 'then' || kw === 'else') continue; // reported once, at `if`
    out.push({ doc: g.doc, at: [...at, g.detail === 'allOf $ref' ? '$ref' : kw], code: 'grammar-ignored-keyword', message: `${name} is not enforced by constrained decoding: ${why}; only post-validation rejects a violation` });
  }
  walkSchema(prepared.schema, ({ schema: s, path: at }) => {
    if (!isObj(s.properties)) return;
    const props = Object.keys(s.properties);
    const req = Array.isArray(s.required) ? s.required.map(String) : [];
    const optional = props.filter((p) => !req.includes(p));
    if (optional.length) out.push({ doc: '', at: [...at, Array.isArray(s.required) ? 'required' : 'properties'], code: 'grammar-optional-emitted', message: `constrained decoding always emits every property, so optional ${optional.map((o) => '`' + o + '`').join(', ')} will always be generated (in \`properties\` order)` });
    if (!('additionalProperties' in s)) out.push({ doc: '', at: [...at, 'properties'], code: 'grammar-closed-object', message: 'no `additionalProperties`: JSON Schema allows other properties, but decoding produces only the listed ones' });
  });
  return out;
}

function grammarCoverage(src: YamlSource, schema: unknown, prepared: PreparedSchema, out: Finding[]): void {
  const gaps = grammarGaps(prepared);
  const inline = isObj(schema) && !isExternalRoot(schema);
  if (inline) {
    for (const g of gaps) {
      if (g.doc !== '') continue;
      const [s, e] = keyRangeOrValue(src, [...SCHEMA_BASE, ...g.at]);
      out.push(finding(g.code, s, e, g.message));
    }
  }
  for (const site of prepared.refSites) {
    const ext = prepared.externals.get(site.file);
    if (!ext) continue;
    const inFile = gaps.filter((g) => g.doc === ext.id && g.code === 'grammar-ignored-keyword');
    if (!inFile.length) continue;
    const [s, e] = valueRange(src, [...SCHEMA_BASE, ...site.at]);
    const kws = [...new Set(inFile.map((g) => `${toPointer(g.at.slice(0, -1)) || '/'}: ${g.at[g.at.length - 1]}`))];
    out.push(finding('grammar-remote-ref', s, e, `${path.basename(site.file)} uses keywords constrained decoding does not enforce (${kws.slice(0, 6).join('; ')}${kws.length > 6 ? `; +${kws.length - 6} more` : ''}); only post-validation enforces them`));
  }
}

// --- coverage hints --------------------------------------------------------------------------------

function coverageHints(src: YamlSource, schema: Record<string, unknown>, r: CheckResult, prompt: Record<string, unknown>, out: Finding[]): void {
  const promptText = [prompt.system, prompt.user].filter((x): x is string => typeof x === 'string').join('\n').toLowerCase();
  const expected = r.examples.filter((e) => e.hasExpected).map((e) => e.expected);
  const mentioned = (word: string) => {
    const w = word.toLowerCase();
    return promptText.includes(w) || promptText.includes(w.replace(/[_-]/g, ' '));
  };
  walkSchema(schema, ({ schema: s, path: at, instance }) => {
    if (instance && Array.isArray(s.enum)) {
      const seen = new Set(expected.flatMap((v) => valuesAt(v, instance)).map((x) => JSON.stringify(x)));
      s.enum.forEach((val, i) => {
        const p = [...SCHEMA_BASE, ...at, 'enum', i];
        if (expected.length && !seen.has(JSON.stringify(val))) {
          const [a, b] = valueRange(src, p);
          out.push(finding('coverage-enum-unexercised', a, b, `no example expects ${quote(val)} at ${toPointer(instance) || '/'}`, { value: val }));
        }
        if (typeof val === 'string' && promptText && !mentioned(val)) {
          const [a, b] = valueRange(src, p);
          out.push(finding('coverage-prompt-missing-enum', a, b, `the prompt never mentions ${quote(val)}, an allowed value of ${toPointer(instance) || '/'}`, { value: val }));
        }
      });
    }
    if (instance && Array.isArray(s.oneOf) && r.schema && expected.length) {
      const compiled = r.schema;
      const hits = new Set<number>();
      for (const v of expected.flatMap((x) => valuesAt(x, instance))) {
        // The branch the value takes; for an invalid value, the branch it came closest to.
        let best = -1;
        let bestErrors = Infinity;
        s.oneOf.forEach((_, i) => {
          const frag = `${compiled.id}#${toPointer([...at, 'oneOf', i])}`;
          try {
            const fn = compiled.ajv.getSchema(frag);
            if (!fn) return;
            const errors = fn(v) ? 0 : (fn.errors?.length ?? 1);
            if (errors === 0) hits.add(i);
            if (errors < bestErrors) {
              bestErrors = errors;
              best = i;
            }
          } catch {
            // a branch that cannot be compiled alone is not counted
          }
        });
        if (bestErrors > 0 && best >= 0) hits.add(best);
      }
      s.oneOf.forEach((_, i) => {
        if (hits.has(i)) return;
        const [a, b] = valueRange(src, [...SCHEMA_BASE, ...at, 'oneOf', i]);
        out.push(finding('coverage-oneof-unexercised', a, Math.min(b, src.text.indexOf('\n', a) < 0 ? b : src.text.indexOf('\n', a)), `no example's expected value takes oneOf branch ${i} at ${toPointer(instance) || '/'}`));
      });
    }
    if (at.length === 0 && Array.isArray(s.required) && promptText) {
      s.required.forEach((name, i) => {
        if (typeof name === 'string' && !mentioned(name)) {
          const [a, b] = valueRange(src, [...SCHEMA_BASE, 'required', i]);
          out.push(finding('coverage-prompt-missing-field', a, b, `the prompt never mentions the required field \`${name}\``, { field: name }));
        }
      });
    }
  });
  ignorePointers(src, schema, r.value, out);
}

function ignorePointers(src: YamlSource, schema: Record<string, unknown>, value: unknown, out: Finding[]): void {
  const ignore = valueAt(value, ['output', 'ignore']);
  if (!Array.isArray(ignore)) return;
  ignore.forEach((ptr, i) => {
    if (typeof ptr !== 'string' || !/^(\/([^~/]|~[01])*)*$/.test(ptr)) return;
    if (!schemaAllows(schema, pointerSegments(ptr))) {
      const [a, b] = valueRange(src, ['output', 'ignore', i]);
      out.push(finding('ignore-pointer-unknown', a, b, `\`${ptr}\` names no location the output schema allows, so it ignores nothing`));
    }
  });
}

function schemaAllows(schema: Record<string, unknown>, segs: string[]): boolean {
  let frontier: unknown[] = [schema];
  for (const seg of segs) {
    const next: unknown[] = [];
    for (const s of frontier) {
      if (!isObj(s)) {
        if (s === true || s === undefined) return true;
        continue;
      }
      if (typeof s.$ref === 'string') return true; // refs: not followed here, give the benefit of the doubt
      for (const k of ['oneOf', 'anyOf', 'allOf']) if (Array.isArray(s[k])) frontier.push(...(s[k] as unknown[]));
      if (isObj(s.properties) && seg in s.properties) next.push(s.properties[seg]);
      else if (isObj(s.properties) || s.type === 'object') {
        if (s.additionalProperties !== false) next.push(s.additionalProperties === undefined ? true : s.additionalProperties);
      }
      if (/^(\d+|-)$/.test(seg)) {
        if (Array.isArray(s.prefixItems) && /^\d+$/.test(seg) && Number(seg) < s.prefixItems.length) next.push(s.prefixItems[Number(seg)]);
        else if (s.items !== undefined) next.push(s.items);
      }
      if (!s.type && !s.properties && !s.items && !s.oneOf && !s.anyOf && !s.allOf && !s.enum && !s.const) return true;
    }
    if (!next.length) return false;
    frontier = next;
  }
  return true;
}

export { CODES };

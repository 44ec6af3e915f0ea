import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { parse as parseYamlValue } from 'yaml';
import { pointerSegments, type SchemaPath } from './schema-walk';

/** Reads files for the checker; the language server answers from open documents first. */
export interface CheckHost {
  /** Absolute folder that `$ref` may read below. Unset: the contract's own folder. */
  workspaceRoot?: string;
  /** Returns the file's text, or undefined when it does not exist. */
  readFile(absPath: string): string | undefined;
  /** Resolves symbolic links (so a link cannot lead outside the workspace). */
  realpath?(absPath: string): string;
}

export type RefProblemCode = 'schema-ref-remote' | 'schema-ref-outside' | 'schema-ref-missing' | 'schema-invalid';

export interface RefProblem {
  code: RefProblemCode;
  /** Path of the offending `$ref` value inside the contract's inline schema (or of the root $ref). */
  at: SchemaPath;
  message: string;
}

export interface ExternalSchema {
  file: string;
  schema: unknown;
}

export interface PreparedSchema {
  /** The schema with file refs rewritten to registered ids and refused refs removed. */
  schema: unknown;
  externals: Map<string, { id: string; schema: unknown; file: string }>;
  problems: RefProblem[];
  /** Which inline `$ref` (by schema path) led to each external file. */
  refSites: { at: SchemaPath; file: string }[];
  /** JSON text of `schema` when it is the caller's own object (no rewriting was needed). */
  json?: string;
}

/** Schemas with no `$id` and no `$ref` other than local ones need no rewriting: the common case. */
const NEEDS_REWRITE = /"\$id"|"\$ref":"(?!#)/;

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function hash(s: string): string {
  return createHash('sha1').update(s).digest('hex').slice(0, 16);
}

function inside(root: string, file: string): boolean {
  const rel = path.relative(root, file);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Resolves `$ref`s that name files: only files inside the workspace are read, never a URL.
 * Returns a copy of the schema where each file ref points at an id registered for that file.
 */
export function prepareSchema(root: unknown, contractFile: string | undefined, host: CheckHost): PreparedSchema {
  const json = JSON.stringify(root);
  if (json !== undefined && !NEEDS_REWRITE.test(json)) return { schema: root, externals: new Map(), problems: [], refSites: [], json };
  const baseDir = contractFile ? path.dirname(contractFile) : host.workspaceRoot ?? process.cwd();
  const wsRoot = host.workspaceRoot ?? baseDir;
  const realRoot = safeRealpath(host, wsRoot);
  const externals = new Map<string, { id: string; schema: unknown; file: string }>();
  const problems: RefProblem[] = [];
  const refSites: { at: SchemaPath; file: string }[] = [];
  const pending: { file: string; raw: unknown; origin: SchemaPath }[] = [];

  const loadFile = (ref: string, fromDir: string, origin: SchemaPath): string | undefined => {
    const [filePart] = ref.split('#', 1);
    const abs = path.resolve(fromDir, decodeURI(filePart ?? ''));
    if (!inside(wsRoot, abs) || !inside(realRoot, safeRealpath(host, abs))) {
      problems.push({ code: 'schema-ref-outside', at: origin, message: `\`$ref: ${ref}\` points outside the workspace (${abs}); only files inside ${wsRoot} are read` });
      return undefined;
    }
    const existing = externals.get(abs);
    if (existing) return existing.id;
    const text = host.readFile(abs);
    if (text === undefined) {
      problems.push({ code: 'schema-ref-missing', at: origin, message: `\`$ref: ${ref}\`: file not found (${path.relative(wsRoot, abs) || abs})` });
      return undefined;
    }
    let raw: unknown;
    try {
      raw = /\.ya?ml$/i.test(abs) ? parseYamlValue(text, { maxAliasCount: 100 }) : JSON.parse(text);
    } catch (e) {
      problems.push({ code: 'schema-invalid', at: origin, message: `\`$ref: ${ref}\`: ${path.basename(abs)} is not valid ${/\.ya?ml$/i.test(abs) ? 'YAML' : 'JSON'}: ${(e as Error).message.split('\n')[0]}` });
      return undefined;
    }
    const id = `urn:contract-file:${hash(abs + '\0' + text)}`;
    externals.set(abs, { id, schema: undefined, file: abs });
    pending.push({ file: abs, raw, origin });
    return id;
  };

  // Rewrites one schema value (iteratively); `origin` is the inline path used to report problems.
  const rewrite = (value: unknown, fromDir: string, inline: boolean, origin: SchemaPath, fileLabel?: string): unknown => {
    const out: { v: unknown } = { v: undefined };
    const stack: { src: unknown; set: (v: unknown) => void; at: SchemaPath }[] = [{ src: value, set: (v) => (out.v = v), at: [] }];
    let guard = 0;
    while (stack.length) {
      if (++guard > 200_000) break;
      const { src, set, at } = stack.pop()!;
      if (Array.isArray(src)) {
        const arr: unknown[] = new Array(src.length);
        set(arr);
        src.forEach((item, i) => stack.push({ src: item, set: (v) => (arr[i] = v), at: [...at, i] }));
      } else if (isObj(src)) {
        const obj: Record<string, unknown> = {};
        set(obj);
        // Keys keep their written order (it is the order decoding generates properties in):
        // create them now, fill them when the stack gets to them.
        for (const k of Object.keys(src)) if (!(k === '$id' && at.length === 0)) obj[k] = undefined;
        for (const [k, v] of Object.entries(src)) {
          if (k === '$ref' && typeof v === 'string') {
            const site = inline ? [...at, '$ref'] : origin;
            if (v.startsWith('#')) obj[k] = v;
            else if (SCHEME.test(v) && !/^file:/i.test(v)) {
              problems.push({ code: 'schema-ref-remote', at: site, message: `\`$ref: ${v}\`${fileLabel ? ` (in ${fileLabel})` : ''} names a URL; schemas are never fetched. Copy it into the workspace and use a relative path` });
            } else {
              const target = /^file:/i.test(v) ? v.replace(/^file:\/\//i, '') : v;
              const id = loadFile(target, fromDir, site);
              if (id) {
                const frag = v.includes('#') ? v.slice(v.indexOf('#')) : '';
                obj[k] = id + frag;
                if (inline) refSites.push({ at: site, file: path.resolve(fromDir, target.split('#', 1)[0] ?? '') });
              }
            }
          } else if (k === '$id' && at.length === 0) {
            // The root id is replaced by ours so that equal schemas share one compiled validator.
          } else stack.push({ src: v, set: (nv) => (obj[k] = nv), at: [...at, k] });
        }
      } else set(src);
    }
    return out.v;
  };

  const schema = rewrite(root, baseDir, true, []);
  while (pending.length) {
    const { file, raw, origin } = pending.shift()!;
    const ext = externals.get(file)!;
    ext.schema = rewrite(raw, path.dirname(file), false, origin, path.relative(wsRoot, file));
  }
  return { schema, externals, problems, refSites };
}

function safeRealpath(host: CheckHost, p: string): string {
  try {
    return host.realpath ? host.realpath(p) : p;
  } catch {
    return p;
  }
}

// --- compiling ---------------------------------------------------------------------------------

export interface SchemaIssue {
  code: 'schema-invalid' | 'schema-strict' | 'schema-pattern-unsafe' | 'schema-ref-missing' | 'schema-recursive';
  /** Path inside the root schema (best effort). */
  at: SchemaPath;
  message: string;
}

export interface CompiledSchema {
  id: string;
  validate: ValidateFunction;
  ajv: Ajv;
  issues: SchemaIssue[];
}

export type CompileResult = { ok: true; compiled: CompiledSchema } | { ok: false; issues: SchemaIssue[] };

const MAX_PATTERN_LENGTH = 1000;

/** Nested unbounded quantifiers ((a+)+, (a*)*, (a|b+){2,}) or backreferences make a pattern unsafe to run. */
export function unsafePatternReason(pattern: string): string | undefined {
  if (pattern.length > MAX_PATTERN_LENGTH) return `longer than ${MAX_PATTERN_LENGTH} characters`;
  if (/\\[1-9]|\\k</.test(pattern)) return 'uses a backreference';
  const stack: { unbounded: boolean }[] = [{ unbounded: false }];
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') stack.push({ unbounded: false });
    else if (c === ')') {
      const g = stack.length > 1 ? stack.pop()! : { unbounded: false };
      const q = pattern.slice(i + 1);
      const quantified = /^(\*|\+|\{(\d+)(,(\d*))?\})/.exec(q);
      const unboundedQ = !!quantified && (quantified[1] === '*' || quantified[1] === '+' || (quantified[3] !== undefined && quantified[4] === ''));
      const upper = quantified && !unboundedQ ? Number(quantified[4] || quantified[2]) : 0;
      if (g.unbounded && (unboundedQ || upper >= 8)) return 'nests unbounded quantifiers (catastrophic backtracking)';
      if (g.unbounded || unboundedQ) stack[stack.length - 1]!.unbounded = true;
    } else if (c === '*' || c === '+') stack[stack.length - 1]!.unbounded = true;
    else if (c === '{' && /^\{\d+,\}/.test(pattern.slice(i))) stack[stack.length - 1]!.unbounded = true;
  }
  return undefined;
}

interface RegExpLike {
  test(s: string): boolean;
}

/** Regex engine handed to ajv: refuses to run patterns that could hang the process. */
function makeRegExpEngine(onUnsafe: (pattern: string, reason: string) => void, onInvalid: (pattern: string, message: string) => void) {
  const engine = (pattern: string, flags: string): RegExpLike => {
    const reason = unsafePatternReason(pattern);
    if (reason) {
      onUnsafe(pattern, reason);
      return { test: () => true };
    }
    try {
      return new RegExp(pattern, flags);
    } catch (e) {
      onInvalid(pattern, (e as Error).message);
      return { test: () => true };
    }
  };
  engine.code = 'new RegExp';
  return engine;
}

interface Instance {
  ajv: Ajv;
  ids: string[];
  sink: { unsafe: (p: string, r: string) => void; invalid: (p: string, m: string) => void; warn: (m: string) => void };
}

const instances = new Map<string, Instance>();
const MAX_CACHED = 256;

function instanceFor(draft: '2020-12' | 'draft-07'): Instance {
  let inst = instances.get(draft);
  if (inst) return inst;
  const sink: Instance['sink'] = { unsafe: () => {}, invalid: () => {}, warn: () => {} };
  const opts = {
    allErrors: true,
    strict: 'log' as const,
    strictRequired: false,
    allowUnionTypes: true,
    logger: { log: () => {}, warn: (m: unknown) => sink.warn(String(m)), error: (m: unknown) => sink.warn(String(m)) },
    code: { regExp: makeRegExpEngine((p, r) => sink.unsafe(p, r), (p, m) => sink.invalid(p, m)) },
  };
  const ajv = draft === '2020-12' ? new Ajv2020(opts) : new Ajv(opts);
  addFormats(ajv);
  inst = { ajv, ids: [], sink };
  instances.set(draft, inst);
  return inst;
}

export function draftOf(schema: unknown): { draft?: '2020-12' | 'draft-07'; unsupported?: string } {
  const s = isObj(schema) ? schema.$schema : undefined;
  if (s === undefined) return { draft: '2020-12' };
  if (typeof s !== 'string') return { unsupported: String(s) };
  if (/2020-12/.test(s)) return { draft: '2020-12' };
  if (/draft-07/.test(s)) return { draft: 'draft-07' };
  return { unsupported: s };
}

/** Compiles (or fetches from the cache) the validator for a prepared schema. Never throws. */
export function compileSchema(prepared: PreparedSchema): CompileResult {
  const { draft, unsupported } = draftOf(prepared.schema);
  if (!draft) return { ok: false, issues: [{ code: 'schema-invalid', at: ['$schema'], message: `\`$schema: ${unsupported}\` is not supported; use https://json-schema.org/draft/2020-12/schema (default) or http://json-schema.org/draft-07/schema#` }] };
  const inst = instanceFor(draft);
  const root = prepared.schema;
  const extList = [...prepared.externals.values()];
  const key = hash((prepared.json ?? JSON.stringify(root)) + '\0' + extList.map((e) => e.id + JSON.stringify(e.schema)).join('\0'));
  const id = `urn:contract-schema:${key}`;
  const cached = inst.ajv.getSchema(id) as ValidateFunction | undefined;
  const issueCache = issuesById.get(id);
  if (cached && issueCache) return { ok: true, compiled: { id, validate: cached, ajv: inst.ajv, issues: issueCache } };

  const issues: SchemaIssue[] = [];
  const seenWarn = new Set<string>();
  inst.sink.unsafe = (p, reason) => {
    for (const at of findKeyword(root, 'pattern', p)) issues.push({ code: 'schema-pattern-unsafe', at, message: `pattern ${JSON.stringify(p.length > 60 ? p.slice(0, 57) + '...' : p)} ${reason}; it is not evaluated while checking` });
  };
  inst.sink.invalid = (p, m) => {
    for (const at of findKeyword(root, 'pattern', p)) issues.push({ code: 'schema-invalid', at, message: `invalid regular expression: ${m}` });
  };
  inst.sink.warn = (m) => {
    if (seenWarn.has(m)) return;
    seenWarn.add(m);
    issues.push(...strictWarning(root, m));
  };
  const added: string[] = [];
  try {
    if (isObj(root) || typeof root === 'boolean') {
      const valid = inst.ajv.validateSchema(root as object);
      if (!valid) {
        const errs = (inst.ajv.errors ?? []) as ErrorObject[];
        return { ok: false, issues: metaErrors(errs) };
      }
    }
    for (const ext of extList) {
      if (!inst.ajv.getSchema(ext.id)) {
        if (isObj(ext.schema) || typeof ext.schema === 'boolean') {
          if (!inst.ajv.validateSchema(ext.schema as object)) {
            const first = metaErrors((inst.ajv.errors ?? []) as ErrorObject[]);
            const more = first.length > 3 ? ` (+${first.length - 3} more)` : '';
            issues.push({ code: 'schema-invalid', at: [], message: `${path.basename(ext.file)} is not a valid JSON Schema: ${first.slice(0, 3).map((i) => i.message).join('; ')}${more}` });
            return { ok: false, issues };
          }
          inst.ajv.addSchema({ ...(isObj(ext.schema) ? ext.schema : {}), $id: ext.id } as object, undefined, undefined, false);
          added.push(ext.id);
        }
      }
    }
    const withId = isObj(root) ? { ...root, $id: id } : root;
    inst.ajv.addSchema(withId as object, isObj(root) ? undefined : id, undefined, false);
    added.push(id);
    const validate = inst.ajv.getSchema(id) as ValidateFunction;
    issuesById.set(id, issues);
    remember(inst, added);
    return { ok: true, compiled: { id, validate, ajv: inst.ajv, issues } };
  } catch (e) {
    for (const a of added) inst.ajv.removeSchema(a);
    const err = e as Error & { missingRef?: string };
    if (err.missingRef !== undefined) {
      const ref = err.missingRef;
      const sites = findKeyword(root, '$ref', undefined).filter((at) => {
        const v = valueAtPath(root, at);
        return typeof v === 'string' && (ref.endsWith(v) || v.endsWith(ref.replace(/^.*#/, '#')));
      });
      issues.push({ code: 'schema-ref-missing', at: sites[0] ?? [], message: `cannot resolve \`$ref\` ${JSON.stringify(displayRef(ref, prepared))}` });
    } else if (e instanceof RangeError) {
      issues.push({ code: 'schema-recursive', at: [], message: 'the schema refers to itself without end (a `$ref` cycle that never consumes data), so it cannot be compiled' });
    } else issues.push({ code: 'schema-invalid', at: [], message: err.message.replace(/urn:contract-schema:[0-9a-f]+/g, '(this schema)') });
    return { ok: false, issues };
  } finally {
    inst.sink.unsafe = () => {};
    inst.sink.invalid = () => {};
    inst.sink.warn = () => {};
  }
}

const issuesById = new Map<string, SchemaIssue[]>();

function remember(inst: Instance, ids: string[]) {
  inst.ids.push(...ids);
  while (inst.ids.length > MAX_CACHED) {
    const old = inst.ids.shift()!;
    inst.ajv.removeSchema(old);
    issuesById.delete(old);
  }
}

function displayRef(ref: string, prepared: PreparedSchema): string {
  for (const ext of prepared.externals.values()) if (ref.startsWith(ext.id)) return path.basename(ext.file) + ref.slice(ext.id.length);
  return ref.replace(/^urn:contract-schema:[0-9a-f]+/, '');
}

function metaErrors(errs: ErrorObject[]): SchemaIssue[] {
  // The meta-schema reports every anyOf branch; keep the deepest error per location.
  const byPath = new Map<string, ErrorObject>();
  for (const e of errs) {
    const prev = byPath.get(e.instancePath);
    if (!prev || (prev.keyword === 'anyOf' && e.keyword !== 'anyOf')) byPath.set(e.instancePath, e);
  }
  return [...byPath.values()].map((e) => {
    const at = pointerSegments(e.instancePath).map((s, i, a) => (/^\d+$/.test(s) && i > 0 && ['allOf', 'anyOf', 'oneOf', 'prefixItems', 'enum', 'required', 'type'].includes(a[i - 1]!) ? Number(s) : s));
    const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues;
    return { code: 'schema-invalid' as const, at, message: `schema${e.instancePath || ''}: ${e.message}${allowed ? ` (${allowed.join(', ')})` : ''}` };
  });
}

function strictWarning(root: unknown, m: string): SchemaIssue[] {
  const text = m.replace(/^strict mode: /, '');
  const unknown = /unknown keyword: "([^"]+)"/.exec(m);
  if (unknown) return findKeyword(root, unknown[1]!, undefined).slice(0, 1).map((at) => ({ code: 'schema-strict' as const, at, message: `unknown keyword \`${unknown[1]}\` is ignored by the validator` }));
  const at = /at "[^#"]*#([^"]*)"/.exec(m);
  const kw = /for keyword "([^"]+)"/.exec(m);
  const base = at ? pointerSegments(at[1]!).map((s) => (/^\d+$/.test(s) ? Number(s) : s)) : [];
  const clean = text.replace(/ at "[^"]*"/, '').replace(/ \(strict\w+\)$/, '');
  return [{ code: 'schema-strict', at: kw ? [...base, kw[1]!] : base, message: clean }];
}

function valueAtPath(root: unknown, at: SchemaPath): unknown {
  let cur = root;
  for (const s of at) cur = Array.isArray(cur) ? cur[Number(s)] : isObj(cur) ? cur[String(s)] : undefined;
  return cur;
}

/** Paths of every occurrence of a keyword (optionally with a given value) in a schema. */
export function findKeyword(root: unknown, keyword: string, value: unknown): SchemaPath[] {
  const out: SchemaPath[] = [];
  const stack: { v: unknown; at: SchemaPath }[] = [{ v: root, at: [] }];
  let guard = 0;
  while (stack.length && guard++ < 200_000) {
    const { v, at } = stack.pop()!;
    if (Array.isArray(v)) v.forEach((x, i) => stack.push({ v: x, at: [...at, i] }));
    else if (isObj(v)) {
      for (const [k, x] of Object.entries(v)) {
        if (k === keyword && (value === undefined || x === value) && at[at.length - 1] !== 'properties') out.push([...at, k]);
        stack.push({ v: x, at: [...at, k] });
      }
    }
  }
  return out.sort((a, b) => a.length - b.length);
}

export function fileUrl(p: string): string {
  return pathToFileURL(p).href;
}

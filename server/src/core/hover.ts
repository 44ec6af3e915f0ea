import { placeholderRanges, type CheckResult, type RawExample } from './check';
import { codeInfo } from './codes';
import { formatNodeAt } from './contract-schema';
import { EMPTY_RESULTS, type ResultsStore } from './results-store';
import { schemasAt, typeSummary } from './schema-at';
import { decodingNote, NAME_MAP_KEYWORDS, SCHEMA_KEYWORDS } from './schema-keywords';
import { valuesAt, walkSchema } from './schema-walk';
import { isScalar, locate, nodeRange, pathAtOffset, type YamlSource } from './yaml-source';

export interface HoverInfo {
  /** Markdown. */
  markdown: string;
  start: number;
  end: number;
}

export interface HoverOptions {
  uri?: string;
  results?: ResultsStore;
}

type Obj = Record<string, unknown>;
type Path = (string | number)[];

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Inline code that survives backticks in the text. */
export function code(s: string): string {
  const runs = s.match(/`+/g) ?? [];
  const fence = '`'.repeat(Math.max(0, ...runs.map((r) => r.length)) + 1);
  return fence.length > 1 || s.startsWith(' ') || s.endsWith(' ') ? `${fence} ${s} ${fence}` : `${fence}${s}${fence}`;
}

function short(v: unknown, max = 80): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v) ?? String(v);
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

function valueAt(root: unknown, path: readonly (string | number)[]): unknown {
  let cur = root;
  for (const s of path) cur = Array.isArray(cur) ? cur[Number(s)] : isObj(cur) ? cur[String(s)] : undefined;
  return cur;
}

function displayPath(path: readonly (string | number)[]): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i ? `.${s}` : s)).join('');
}

const within = (offset: number, s: number, e: number) => (offset >= s && offset < e) || (s === e && offset === s);

/** What to show when hovering at `offset`: the meaning of diagnostics there, then what the text under the cursor is. */
export function hoverAt(r: CheckResult, offset: number, opts: HoverOptions = {}): HoverInfo | undefined {
  const parts: string[] = [];
  let range: [number, number] | undefined;
  const codes = new Set<string>();
  for (const f of r.findings) {
    if (!within(offset, f.start, f.end) || codes.has(f.code)) continue;
    codes.add(f.code);
    const info = codeInfo(f.code);
    parts.push(info ? `**${info.title}** (${code(f.code)}): ${info.explain}` : `${code(f.code)}: ${f.message}`);
    range ??= [f.start, f.end];
  }
  const main = r.source ? structuralHover(r, r.source, offset, opts) : undefined;
  if (main) {
    parts.push(main.markdown);
    range = [main.start, main.end];
  }
  if (!parts.length || !range) return undefined;
  return { markdown: parts.join('\n\n---\n\n'), start: range[0], end: range[1] };
}

function structuralHover(r: CheckResult, src: YamlSource, offset: number, opts: HoverOptions): HoverInfo | undefined {
  for (const p of placeholderRanges(src)) {
    if (within(offset, p.start, p.end)) return { markdown: placeholderHover(r, p.name), start: p.start, end: p.end };
  }
  const hit = pathAtOffset(src, offset);
  const path = hit.path;
  const range = nodeRange(hit.node);
  if (!range || path.some((s) => s === undefined || s === null)) return undefined;
  const at = (markdown: string | undefined, rng: [number, number] = range): HoverInfo | undefined => (markdown ? { markdown, start: rng[0], end: rng[1] } : undefined);
  if (path[0] === 'output' && path[1] === 'schema' && path.length > 2) return at(schemaHover(r, path.slice(2), hit.onKey));
  if (path[0] === 'examples' && typeof path[1] === 'number') {
    const ex = r.examples[path[1]];
    if (!ex) return undefined;
    if (path.length === 2 || path[2] === 'name') {
      const nameRange = nodeRange(locate(src, ['examples', path[1], 'name']).node);
      return at(exampleHover(r, ex, opts), path.length === 2 ? nameRange ?? [range[0], range[0]] : range);
    }
    if (path[2] === 'input' && path.length === 4 && hit.onKey) return at(inputKeyHover(r, String(path[3])));
    if (path[2] === 'expected' && path.length > 3 && hit.onKey) return at(expectedKeyHover(r, path.slice(3)));
  }
  if (hit.onKey) return at(formatHover(path));
  if (isScalar(hit.node) && (formatNodeAt(path)?.enum || path.length === 1)) return at(formatHover(path));
  return undefined;
}

// --- the contract format --------------------------------------------------------------------------

function formatHover(path: Path): string | undefined {
  const node = formatNodeAt(path);
  if (!node?.description) return undefined;
  const lines = [`**${code(String(path[path.length - 1]))}** · ${code(displayPath(path))}`, node.description];
  const facts: string[] = [];
  const values = node.enum ?? node.anyOf?.find((a) => Array.isArray(a.enum))?.enum;
  if (values) facts.push(`one of ${values.map((v) => code(String(v))).join(', ')}`);
  const def = node.default === undefined || isObj(node.default) ? undefined : JSON.stringify(node.default);
  if (def !== undefined && def.length <= 60) facts.push(`default ${code(def)}`);
  if (facts.length) lines.push(facts.join(' · '));
  return lines.join('\n\n');
}

// --- placeholders ---------------------------------------------------------------------------------

function exampleLabel(ex: RawExample): string {
  return ex.name !== undefined ? code(ex.name) : `#${ex.index + 1}`;
}

function list(items: string[], max = 10): string {
  return items.length > max ? `${items.slice(0, max).join(', ')} and ${items.length - max} more` : items.join(', ');
}

function placeholderHover(r: CheckResult, name: string): string {
  const has = (ex: RawExample) => Object.prototype.hasOwnProperty.call(ex.input, name);
  const supplying = r.examples.filter(has);
  const missing = r.examples.filter((e) => !has(e));
  const lines = [`**Placeholder ${code(`{{${name}}}`)}**: filled from each example's ${code(`input.${name}`)}.`];
  if (!r.examples.length) lines.push('No examples yet.');
  else {
    lines.push(supplying.length ? `Supplied by ${supplying.length} of ${r.examples.length} examples: ${list(supplying.map(exampleLabel))}.` : `No example supplies it (${r.examples.length} examples).`);
    if (missing.length && supplying.length) lines.push(`Missing in: ${list(missing.map(exampleLabel))}.`);
  }
  return lines.join('\n\n');
}

function inputKeyHover(r: CheckResult, key: string): string {
  const parts: string[] = [];
  const prompt = isObj(r.value) && isObj(r.value.prompt) ? r.value.prompt : {};
  for (const part of ['system', 'user']) {
    if (typeof prompt[part] === 'string' && (prompt[part] as string).match(new RegExp(`(^|[^\\\\])\\{\\{\\s*${key.replace(/[^\w]/g, '\\$&')}\\s*\\}\\}`))) parts.push(code(`prompt.${part}`));
  }
  return parts.length ? `**Input ${code(key)}**: fills ${code(`{{${key}}}`)} in ${parts.join(' and ')}.` : `**Input ${code(key)}**: the prompt has no ${code(`{{${key}}}`)}, so the model never sees this value.`;
}

// --- examples -------------------------------------------------------------------------------------

function exampleHover(r: CheckResult, ex: RawExample, opts: HoverOptions): string {
  const raw = isObj(r.value) && Array.isArray(r.value.examples) && isObj(r.value.examples[ex.index]) ? (r.value.examples[ex.index] as Obj) : {};
  const lines = [`**Example ${exampleLabel(ex)}** · ${ex.index + 1} of ${r.examples.length}`];
  if (typeof raw.description === 'string') lines.push(raw.description);
  const keys = Object.keys(ex.input);
  if (keys.length) {
    const shown = keys.slice(0, 8).map((k) => `- ${code(k)}: ${code(short(ex.input[k]))}`);
    if (keys.length > 8) shown.push(`- … ${keys.length - 8} more`);
    lines.push(`Input:\n${shown.join('\n')}`);
  } else lines.push('Input: none');
  if (ex.hasExpected) lines.push(`Expected: ${code(short(ex.expected, 160))}`);
  const facts: string[] = [];
  if (Array.isArray(raw.tags) && raw.tags.length) facts.push(`tags ${raw.tags.map((t) => code(String(t))).join(', ')}`);
  if (raw.skip === true) facts.push('skipped (`skip: true`)');
  if (facts.length) lines.push(facts.join(' · '));
  const last = ex.name !== undefined && opts.uri ? (opts.results ?? EMPTY_RESULTS).lastRun(opts.uri, ex.name) : undefined;
  if (last) {
    const bits = [last.status, last.quantization, last.latencyMs !== undefined ? `${Math.round(last.latencyMs)} ms` : undefined, last.ttftMs !== undefined ? `first token ${Math.round(last.ttftMs)} ms` : undefined, last.at].filter(Boolean);
    lines.push(`Last run: ${bits.join(' · ')}${last.message ? `: ${last.message}` : ''}`);
    if (last.output !== undefined) lines.push(`Output: ${code(short(last.output, 160))}`);
  }
  return lines.join('\n\n');
}

function expectedKeyHover(r: CheckResult, instance: Path): string | undefined {
  const schemas = schemasAt(r, instance);
  if (!schemas.length) return `**${code(String(instance[instance.length - 1]))}**: the output schema does not describe this property.`;
  return propertyText(String(instance[instance.length - 1]), schemas, undefined);
}

function propertyText(name: string, schemas: Obj[], required: boolean | undefined, what = 'Property'): string {
  const lines = [`**${what} ${code(name)}**${required === undefined ? '' : required ? ' · required' : ' · optional'}`];
  const desc = schemas.map((s) => s.description).find((d): d is string => typeof d === 'string');
  if (desc) lines.push(desc);
  const type = schemas.map(typeSummary).find((t) => t !== undefined);
  if (type) lines.push(`Type: ${type}`);
  return lines.join('\n\n');
}

// --- inside output.schema -------------------------------------------------------------------------

function schemaHover(r: CheckResult, rest: Path, onKey: boolean): string | undefined {
  const schema = isObj(r.value) && isObj(r.value.output) ? r.value.output.schema : undefined;
  if (onKey) {
    const key = String(rest[rest.length - 1]);
    const parent = rest[rest.length - 2];
    if (typeof parent === 'string' && NAME_MAP_KEYWORDS.has(parent)) {
      const sub = valueAt(schema, rest);
      const owner = valueAt(schema, rest.slice(0, -2));
      const required = parent === 'properties' ? isObj(owner) && Array.isArray(owner.required) && owner.required.includes(key) : undefined;
      const what = parent === 'properties' ? 'Property' : parent === 'patternProperties' ? 'Properties matching' : parent === 'dependentSchemas' ? 'When present:' : 'Definition';
      return propertyText(key, isObj(sub) ? [sub] : [], required, what);
    }
    return keywordText(key);
  }
  // A value: explain the keyword it belongs to; for an enum value, say how many examples expect it.
  for (let j = rest.length - 1; j >= 0; j--) {
    const seg = rest[j];
    if (typeof seg !== 'string' || (j > 0 && NAME_MAP_KEYWORDS.has(String(rest[j - 1])))) continue;
    if (seg === 'enum' && typeof rest[j + 1] === 'number') return enumValueText(r, schema, rest.slice(0, j), valueAt(schema, rest.slice(0, j + 2)));
    return keywordText(seg);
  }
  return undefined;
}

function keywordText(kw: string): string {
  const doc = SCHEMA_KEYWORDS[kw];
  const lines = [doc ? `**JSON Schema ${code(kw)}**: ${doc}` : `${code(kw)} is not a JSON Schema keyword: validation ignores it.`];
  const note = decodingNote(kw);
  if (note) lines.push(`Constrained decoding: ${note}.`);
  return lines.join('\n\n');
}

function enumValueText(r: CheckResult, schema: unknown, at: Path, value: unknown): string {
  let instance: (string | number)[] | null = null;
  walkSchema(schema, (v) => {
    if (v.path.length === at.length && v.path.every((s, i) => s === at[i])) instance = v.instance;
  });
  const lines = [`**Allowed value ${code(short(value))}**${instance ? ` of ${code(pointer(instance))}` : ''}`];
  if (instance) {
    const key = JSON.stringify(value);
    const expecting = r.examples.filter((e) => e.hasExpected && valuesAt(e.expected, instance!).some((x) => JSON.stringify(x) === key));
    lines.push(expecting.length ? `Expected by ${expecting.length} of ${r.examples.length} examples: ${list(expecting.map(exampleLabel), 6)}.` : 'No example expects it.');
  }
  return lines.join('\n\n');
}

function pointer(instance: readonly (string | number)[]): string {
  return instance.length ? instance.map((s) => '/' + String(s)).join('') : '/';
}

import type { CheckResult } from './check';
import { formatKeysAt, formatNodeAt } from './contract-schema';
import { cursorContext, type CursorContext, type Segment } from './cursor-context';
import { allowedValuesAt, propertiesAt } from './schema-at';
import { JSON_TYPES, NAME_MAP_KEYWORDS, SCHEMA_KEYWORDS } from './schema-keywords';

export type CompletionKind = 'property' | 'value' | 'enum' | 'placeholder' | 'keyword';

export interface Completion {
  label: string;
  kind: CompletionKind;
  detail?: string;
  /** Markdown. */
  documentation?: string;
  /** Text that replaces [start, end). */
  insertText: string;
  start: number;
  end: number;
  /** Orders items; lower first. */
  sortText?: string;
}

/** Completions at `offset`. Reads the cursor's context from the text, so it works on YAML that does not parse yet. */
export function completionsAt(r: CheckResult, offset: number): Completion[] {
  const text = r.text;
  const placeholder = placeholderCompletions(r, text, offset);
  if (placeholder) return placeholder;
  const ctx = cursorContext(text, offset);
  if (ctx.kind === 'key') return keyCompletions(r, ctx);
  if (ctx.kind === 'value') return valueCompletions(r, ctx, ctx.path);
  return [];
}

// --- placeholders -----------------------------------------------------------------------------------

function isPromptPath(p: Segment[]): boolean {
  return p.length === 2 && p[0] === 'prompt' && (p[1] === 'system' || p[1] === 'user');
}

/** Names a prompt may use: those it already uses and the input keys that examples supply. */
export function placeholderCandidates(r: CheckResult): { name: string; used: boolean; supplied: number }[] {
  const names = new Map<string, { name: string; used: boolean; supplied: number }>();
  for (const n of r.placeholders) names.set(n, { name: n, used: true, supplied: 0 });
  for (const ex of r.examples) {
    for (const k of Object.keys(ex.input)) {
      const e = names.get(k) ?? { name: k, used: false, supplied: 0 };
      e.supplied++;
      names.set(k, e);
    }
  }
  return [...names.values()];
}

function placeholderCompletions(r: CheckResult, text: string, offset: number): Completion[] | undefined {
  const lineStart = Math.max(text.lastIndexOf('\n', offset - 1), text.lastIndexOf('\r', offset - 1)) + 1;
  const before = text.slice(lineStart, offset);
  const m = /(^|[^\\])\{\{\s*([A-Za-z0-9_]*)$/.exec(before);
  if (!m) return undefined;
  const ctx = cursorContext(text, offset);
  if (!isPromptPath(ctx.path)) return undefined;
  const partial = m[2]!;
  const after = text.slice(offset);
  const word = /^[A-Za-z0-9_]*/.exec(after)![0];
  const closed = /^[A-Za-z0-9_]*\s*\}\}/.test(after);
  const total = r.examples.length;
  return placeholderCandidates(r).map((c, i) => ({
    label: c.name,
    kind: 'placeholder' as const,
    detail: c.used ? `used in the prompt · supplied by ${c.supplied} of ${total} examples` : `input of ${c.supplied} of ${total} examples, not used yet`,
    insertText: closed ? c.name : `${c.name}}}`,
    start: offset - partial.length,
    end: offset + word.length,
    sortText: `${c.used ? 0 : 1}${String(i).padStart(4, '0')}`,
  }));
}

// --- keys ---------------------------------------------------------------------------------------

/** Which part of the contract a path is in. */
function region(path: Segment[]): { kind: 'format' } | { kind: 'schema'; rest: Segment[] } | { kind: 'input'; example: number; rest: Segment[] } | { kind: 'expected'; example: number; rest: Segment[] } {
  if (path[0] === 'output' && path[1] === 'schema') return { kind: 'schema', rest: path.slice(2) };
  if (path[0] === 'examples' && typeof path[1] === 'number') {
    if (path[2] === 'input') return { kind: 'input', example: path[1], rest: path.slice(3) };
    if (path[2] === 'expected') return { kind: 'expected', example: path[1], rest: path.slice(3) };
  }
  return { kind: 'format' };
}

function keyItem(label: string, kind: CompletionKind, ctx: CursorContext, detail: string | undefined, documentation: string | undefined, sortText: string): Completion {
  const c: Completion = { label, kind, insertText: ctx.hasColon ? quoteKey(label) : `${quoteKey(label)}: `, start: ctx.replaceStart, end: ctx.replaceEnd, sortText };
  if (detail) c.detail = detail;
  if (documentation) c.documentation = documentation;
  return c;
}

function quoteKey(k: string): string {
  return /^[A-Za-z_$][\w$.-]*$/.test(k) ? k : JSON.stringify(k);
}

function keyCompletions(r: CheckResult, ctx: CursorContext): Completion[] {
  const present = new Set(ctx.siblings);
  const where = region(ctx.path);
  const out: Completion[] = [];
  if (where.kind === 'format') {
    const node = formatNodeAt(ctx.path);
    const required = new Set(formatRequired(node));
    formatKeysAt(ctx.path).forEach((k, i) => {
      if (present.has(k.key)) return;
      out.push(keyItem(k.key, 'property', ctx, required.has(k.key) ? 'required' : undefined, k.description || undefined, `${required.has(k.key) ? 0 : 1}${String(i).padStart(3, '0')}`));
    });
  } else if (where.kind === 'input' && where.rest.length === 0) {
    placeholderCandidates(r)
      .filter((c) => c.used && !present.has(c.name))
      .forEach((c, i) => out.push(keyItem(c.name, 'placeholder', ctx, `fills {{${c.name}}}`, undefined, String(i).padStart(4, '0'))));
  } else if (where.kind === 'expected') {
    propertiesAt(r, where.rest).forEach((p, i) => {
      if (present.has(p.name)) return;
      out.push(keyItem(p.name, 'property', ctx, p.required ? 'required' : undefined, p.description, `${p.required ? 0 : 1}${String(i).padStart(4, '0')}`));
    });
  } else if (where.kind === 'schema') {
    const last = where.rest[where.rest.length - 1];
    if (typeof last === 'string' && NAME_MAP_KEYWORDS.has(last)) return [];
    Object.entries(SCHEMA_KEYWORDS).forEach(([kw, doc], i) => {
      if (present.has(kw)) return;
      out.push(keyItem(kw, 'keyword', ctx, undefined, doc, String(i).padStart(4, '0')));
    });
  }
  // `- na|` may also start a scalar item of a list.
  return out.length || !ctx.path.length ? out : valueCompletions(r, ctx, ctx.path);
}

function formatRequired(node: unknown): string[] {
  const n = node as { required?: unknown; anyOf?: { required?: unknown }[] } | undefined;
  const req = n?.required ?? n?.anyOf?.find((a) => Array.isArray(a.required))?.required;
  return Array.isArray(req) ? req.map(String) : [];
}

// --- values -------------------------------------------------------------------------------------

/** A scalar as YAML source: plain when that reads back as the same value, otherwise JSON-quoted. */
export function yamlScalar(v: unknown, flow: boolean): string {
  if (typeof v !== 'string') return JSON.stringify(v) ?? String(v);
  const plainOk =
    v !== '' &&
    /^[^\s\-?:,[\]{}#&*!|>'"%@`]/.test(v) &&
    !/[\s]$/.test(v) &&
    !/: |\s#/.test(v) &&
    !(flow && /[,[\]{}]/.test(v)) &&
    !/^(true|false|yes|no|on|off|null|~|y|n)$/i.test(v) &&
    !/^[-+]?(\d|\.\d)/.test(v) &&
    !/^\.(inf|nan)$/i.test(v);
  return plainOk ? v : JSON.stringify(v);
}

function valueItem(v: unknown, kind: CompletionKind, ctx: CursorContext, detail: string | undefined, i: number, documentation?: string): Completion {
  const c: Completion = { label: typeof v === 'string' ? v : JSON.stringify(v) ?? String(v), kind, insertText: yamlScalar(v, ctx.flow), start: ctx.replaceStart, end: ctx.replaceEnd, sortText: String(i).padStart(4, '0') };
  if (detail) c.detail = detail;
  if (documentation) c.documentation = documentation;
  return c;
}

function valueCompletions(r: CheckResult, ctx: CursorContext, path: Segment[]): Completion[] {
  const where = region(path);
  if (where.kind === 'expected') {
    const allowed = allowedValuesAt(r, where.rest);
    return allowed.map((v, i) => valueItem(v, 'enum', ctx, 'allowed by the output schema', i));
  }
  if (where.kind === 'schema') {
    if (where.rest[where.rest.length - 1] === 'type' || (where.rest[where.rest.length - 2] === 'type' && typeof where.rest[where.rest.length - 1] === 'number')) {
      return JSON_TYPES.map((t, i) => valueItem(t, 'value', ctx, 'JSON type', i));
    }
    return [];
  }
  if (where.kind === 'format') {
    const node = formatNodeAt(path);
    if (!node) return [];
    const values = node.enum ?? node.anyOf?.find((a) => Array.isArray(a.enum))?.enum;
    if (Array.isArray(values)) return values.map((v, i) => valueItem(v, 'enum', ctx, node.default === v ? 'default' : undefined, i, node.description));
    const types = Array.isArray(node.type) ? node.type : [node.type];
    if (types.includes('boolean')) return [true, false].map((v, i) => valueItem(v, 'value', ctx, undefined, i, node.description));
  }
  return [];
}

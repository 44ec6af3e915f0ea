import { createHash } from 'node:crypto';
import type { PreparedSchema } from './output-schema';
import { pointerSegments, toPointer } from './schema-walk';

/**
 * JSON Schema → node-llama-cpp's GbnfJsonSchema (the subset its grammar generator understands).
 *
 * What the grammar can express is kept; what it cannot is dropped and listed in `dropped` (the
 * checker already warns about those keywords, and post-validation with the full schema enforces
 * them). Differences from handing the schema to node-llama-cpp directly:
 * - every `$ref` (local, or to a schema file: `prepared` rewrote those to registered ids) becomes a
 *   local `#/$defs/dN` entry, so file refs are followed instead of turning into "any JSON";
 * - `anyOf` becomes a union like `oneOf` (node-llama-cpp turns it into the literal `null`);
 * - `allOf` members are merged into their parent (shallowly);
 * - `type` lists, `enum`/`const` of objects or arrays, and the empty schema are spelled out;
 * - a `false` subschema removes the property or array items it guards.
 * A schema no JSON value can satisfy (`false` at the root, an empty `enum`, ...) is a GrammarError.
 */

export type GbnfSchema = Record<string, unknown>;

export class GrammarError extends Error {
  constructor(message: string, readonly at: string) {
    super(message);
    this.name = 'GrammarError';
  }
}

export interface GrammarGap {
  /** '' for the contract's own schema, else the registered id of a referenced schema file. */
  doc: string;
  /** Path of the subschema inside that document. */
  at: string[];
  /** The keyword left out, as written in the schema. */
  keyword: string;
  /** Why, in a word or two ("format email", "next to $ref", ...). */
  detail: string;
}

export interface ConvertedGrammar {
  schema: GbnfSchema;
  /** Keywords left out of the grammar, as "pointer: keyword" (pointer into the schema). */
  dropped: string[];
  /** The same, structured, for placing diagnostics on the keyword. */
  gaps: GrammarGap[];
  /** Hash of `schema`, key order included: the grammar cache key. */
  hash: string;
}

const NEVER = Symbol('never');
type Conv = GbnfSchema | typeof NEVER;

const BASIC = ['string', 'number', 'integer', 'boolean', 'null'] as const;
const ANY: GbnfSchema = { oneOf: [{ type: ['string', 'number', 'boolean', 'null'] }, { type: 'object', additionalProperties: true }, { type: 'array' }] };
const GRAMMAR_FORMATS = new Set(['date-time', 'time', 'date']);

/** Keywords that only annotate or that post-validation alone enforces. */
const NOT_ENFORCED = ['pattern', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'not', 'if', 'then', 'else', 'dependentRequired', 'dependentSchemas', 'patternProperties', 'propertyNames', 'uniqueItems', 'contains', 'minContains', 'maxContains', 'unevaluatedProperties', 'unevaluatedItems'];

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return '[' + v.map(stableStringify).join(',') + ']';
  if (isObj(v)) return '{' + Object.keys(v).sort().map((k) => JSON.stringify(k) + ':' + stableStringify(v[k])).join(',') + '}';
  return JSON.stringify(v) ?? 'null';
}

export function hashOf(v: unknown): string {
  return createHash('sha256').update(stableStringify(v)).digest('hex').slice(0, 32);
}

/** Converts a prepared output schema (file refs already rewritten by the checker). */
export function toGbnfJsonSchema(prepared: Pick<PreparedSchema, 'schema' | 'externals'>): ConvertedGrammar {
  const docs = new Map<string, unknown>([['', prepared.schema]]);
  for (const ext of prepared.externals.values()) docs.set(ext.id, ext.schema);
  const dropped = new Set<string>();
  const gaps: GrammarGap[] = [];
  const gap = (doc: string, at: string[], keyword: string, detail = keyword) => {
    const where = (doc ? `${doc}` : '') + (toPointer(at) || '/');
    const text = `${where}: ${detail}`;
    if (dropped.has(text)) return;
    dropped.add(text);
    gaps.push({ doc, at, keyword, detail });
  };
  const defs: Record<string, Conv> = {};
  const defNames = new Map<string, string>();
  const pending: { name: string; doc: string; pointer: string }[] = [];

  const refTo = (ref: string, doc: string, at: string): string => {
    const hashAt = ref.indexOf('#');
    const targetDoc = hashAt === 0 ? doc : hashAt < 0 ? ref : ref.slice(0, hashAt);
    const pointer = hashAt < 0 ? '' : decodeURI(ref.slice(hashAt + 1));
    if (!docs.has(targetDoc)) throw new GrammarError(`\`$ref: ${ref}\` cannot be resolved for the grammar`, at);
    if (pointer && !pointer.startsWith('/')) throw new GrammarError(`\`$ref: ${ref}\`: only JSON Pointer fragments are supported`, at);
    const key = targetDoc + '#' + pointer;
    let name = defNames.get(key);
    if (!name) {
      name = `d${defNames.size}`;
      defNames.set(key, name);
      pending.push({ name, doc: targetDoc, pointer });
    }
    return name;
  };

  const conv = (s: unknown, doc: string, at: string[]): Conv => {
    const where = (doc ? `${doc}` : '') + (toPointer(at) || '/');
    if (s === true || s === undefined) return ANY;
    if (s === false) return NEVER;
    if (!isObj(s)) return ANY;
    let node: Record<string, unknown> = s;
    for (const kw of NOT_ENFORCED) if (kw in node) gap(doc, at, kw);

    if (typeof node.$ref === 'string') {
      const others = Object.keys(node).filter((k) => !['$ref', '$defs', 'definitions', 'description', 'title', '$comment', 'examples', 'default', '$schema', '$id'].includes(k));
      for (const k of others) gap(doc, at, k, `${k} (next to $ref)`);
      return { $ref: `#/$defs/${refTo(node.$ref, doc, where)}` };
    }
    if (Array.isArray(node.allOf)) {
      node = mergeAllOf(node, (i) => gap(doc, [...at, 'allOf', String(i)], '$ref', 'allOf $ref'));
    }
    if ('const' in node) return literal(node.const);
    if (Array.isArray(node.enum)) {
      if (!node.enum.length) return NEVER;
      const prim = node.enum.every((v) => v === null || ['string', 'number', 'boolean'].includes(typeof v));
      if (prim) return { enum: [...node.enum] };
      return union(node.enum.map(literal));
    }
    const alts = Array.isArray(node.oneOf) ? node.oneOf : Array.isArray(node.anyOf) ? node.anyOf : undefined;
    if (alts) {
      const key = Array.isArray(node.oneOf) ? 'oneOf' : 'anyOf';
      const rest = { ...node };
      delete rest.oneOf;
      delete rest.anyOf;
      const hasRest = Object.keys(rest).some((k) => !['description', 'title', '$comment', 'examples', 'default', '$defs', 'definitions', '$schema', '$id'].includes(k));
      const branches = alts.map((b, i) => conv(hasRest && isObj(b) ? { ...rest, ...b } : b === true && hasRest ? rest : b, doc, [...at, key, String(i)]));
      return union(branches);
    }
    const types = typesOf(node);
    if (types === undefined) return ANY;
    if (!types.length) return NEVER;
    return union(types.map((t) => single(t, node, doc, at)));
  };

  const single = (t: string, node: Record<string, unknown>, doc: string, at: string[]): Conv => {
    switch (t) {
      case 'string': {
        if (typeof node.format === 'string' && GRAMMAR_FORMATS.has(node.format)) return { type: 'string', format: node.format };
        if (typeof node.format === 'string') gap(doc, at, 'format', `format ${node.format}`);
        const out: GbnfSchema = { type: 'string' };
        if (typeof node.minLength === 'number') out.minLength = node.minLength;
        if (typeof node.maxLength === 'number') {
          if (typeof node.minLength === 'number' && node.maxLength < node.minLength) return NEVER;
          out.maxLength = node.maxLength;
        }
        return out;
      }
      case 'number':
      case 'integer':
      case 'boolean':
      case 'null':
        return { type: t };
      case 'object': {
        const props = isObj(node.properties) ? node.properties : undefined;
        const required = Array.isArray(node.required) ? node.required.map(String) : [];
        const outProps: Record<string, unknown> = {};
        if (props) {
          for (const [k, v] of Object.entries(props)) {
            const c = conv(v, doc, [...at, 'properties', k]);
            if (c === NEVER) {
              if (required.includes(k)) return NEVER;
              continue; // a property that can never be valid is never generated
            }
            outProps[k] = c;
          }
        }
        const out: GbnfSchema = { type: 'object', properties: outProps };
        const ap = node.additionalProperties;
        if (ap === undefined) {
          // node-llama-cpp treats a missing additionalProperties as false; an object schema
          // without properties would then only allow {}, so it gets "anything" instead.
          out.additionalProperties = props ? false : true;
        } else if (ap === false || ap === true) out.additionalProperties = ap;
        else {
          const c = conv(ap, doc, [...at, 'additionalProperties']);
          out.additionalProperties = c === NEVER ? false : c;
        }
        if (out.additionalProperties !== false) {
          if (typeof node.minProperties === 'number') out.minProperties = node.minProperties;
          if (typeof node.maxProperties === 'number') out.maxProperties = Math.max(node.maxProperties, Object.keys(outProps).length);
        } else {
          for (const kw of ['minProperties', 'maxProperties']) if (kw in node) gap(doc, at, kw);
        }
        return out;
      }
      case 'array': {
        const out: GbnfSchema = { type: 'array' };
        let prefix: unknown[] | undefined;
        let items: unknown;
        if (Array.isArray(node.prefixItems)) {
          prefix = node.prefixItems;
          items = node.items;
        } else if (Array.isArray(node.items)) {
          prefix = node.items; // draft-07 tuple
          items = node.additionalItems;
        } else items = node.items;
        let minItems = typeof node.minItems === 'number' ? node.minItems : 0;
        let maxItems = typeof node.maxItems === 'number' ? node.maxItems : undefined;
        if (prefix) {
          const conv2: GbnfSchema[] = [];
          for (let i = 0; i < prefix.length; i++) {
            const c = conv(prefix[i], doc, [...at, Array.isArray(node.prefixItems) ? 'prefixItems' : 'items', String(i)]);
            if (c === NEVER) {
              // Items from here on can never be valid: the array must end before them.
              maxItems = Math.min(maxItems ?? i, i);
              break;
            }
            conv2.push(c);
          }
          if (conv2.length) out.prefixItems = conv2;
        }
        if (items !== undefined) {
          const c = conv(items, doc, [...at, Array.isArray(node.prefixItems) ? 'items' : Array.isArray(node.items) ? 'additionalItems' : 'items']);
          if (c === NEVER) maxItems = Math.min(maxItems ?? Infinity, (out.prefixItems as unknown[] | undefined)?.length ?? 0);
          else out.items = c;
        }
        if (maxItems !== undefined && minItems > maxItems) return NEVER;
        const nPrefix = (out.prefixItems as unknown[] | undefined)?.length ?? 0;
        if (prefix && nPrefix < prefix.length && minItems > nPrefix) return NEVER;
        // node-llama-cpp raises minItems to the number of prefix items: every prefix item is emitted.
        if (nPrefix && minItems < nPrefix) minItems = Math.min(nPrefix, maxItems ?? nPrefix);
        if (minItems) out.minItems = minItems;
        if (maxItems !== undefined && Number.isFinite(maxItems)) out.maxItems = maxItems;
        if (nPrefix && maxItems !== undefined && maxItems < nPrefix) out.prefixItems = (out.prefixItems as unknown[]).slice(0, maxItems);
        return out;
      }
      default:
        return NEVER;
    }
  };

  const rootConv = conv(prepared.schema, '', []);
  while (pending.length) {
    const { name, doc, pointer } = pending.shift()!;
    const target = resolvePointer(docs.get(doc), pointer);
    if (target === undefined) throw new GrammarError(`\`$ref\` target ${pointer || '#'} does not exist`, doc + pointer);
    defs[name] = conv(target, doc, pointerSegments(pointer));
  }
  if (rootConv === NEVER) throw new GrammarError('the output schema allows no value at all (it is `false`, an empty `enum`, or its conditions contradict each other), so no grammar can be built', '/');
  const usable: Record<string, unknown> = {};
  for (const [name, d] of Object.entries(defs)) {
    // A ref to a schema that allows nothing: the grammar cannot express "no value" inside a
    // union, so it becomes a value that post-validation will reject.
    usable[name] = d === NEVER ? { const: null } : d;
  }
  let schema: GbnfSchema = rootConv;
  if (Object.keys(usable).length) {
    if ('$ref' in schema || 'oneOf' in schema || schema.type === 'object' || schema.type === 'array') schema = { ...schema, $defs: usable };
    else schema = { oneOf: [schema], $defs: usable };
  }
  // Key order matters (it is the order properties are generated in): hash the schema as written.
  return { schema, dropped: [...dropped].sort(), gaps, hash: createHash('sha256').update(JSON.stringify(schema)).digest('hex').slice(0, 32) };
}

function literal(v: unknown): GbnfSchema {
  if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) return { const: v };
  if (Array.isArray(v)) return { type: 'array', prefixItems: v.map(literal), minItems: v.length, maxItems: v.length };
  if (isObj(v)) {
    const properties: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) properties[k] = literal(x);
    return { type: 'object', properties, additionalProperties: false };
  }
  return { const: null };
}

function union(parts: Conv[]): Conv {
  const ok = parts.filter((p): p is GbnfSchema => p !== NEVER);
  if (!ok.length) return NEVER;
  if (ok.length === 1) return ok[0]!;
  // Plain basic types fold into one `type` list.
  if (ok.every((p) => Object.keys(p).length === 1 && typeof p.type === 'string' && (BASIC as readonly string[]).includes(p.type))) {
    return { type: [...new Set(ok.map((p) => p.type as string))] };
  }
  return { oneOf: ok };
}

/** The types a node allows; undefined when it says nothing about types (any JSON value). */
function typesOf(node: Record<string, unknown>): string[] | undefined {
  if (typeof node.type === 'string') return [node.type];
  if (Array.isArray(node.type)) return node.type.filter((t): t is string => typeof t === 'string');
  const out: string[] = [];
  if ('properties' in node || 'additionalProperties' in node || 'required' in node || 'minProperties' in node || 'maxProperties' in node) out.push('object');
  if ('items' in node || 'prefixItems' in node || 'minItems' in node || 'maxItems' in node || 'additionalItems' in node) out.push('array');
  if ('minLength' in node || 'maxLength' in node || 'format' in node || 'pattern' in node) out.push('string');
  if (!out.length && ('minimum' in node || 'maximum' in node || 'multipleOf' in node || 'exclusiveMinimum' in node || 'exclusiveMaximum' in node)) out.push('number');
  return out.length ? out : undefined;
}

/** allOf: members' keywords are merged into the parent (properties and required are united; the last wins otherwise). */
function mergeAllOf(node: Record<string, unknown>, onRef: (index: number) => void): Record<string, unknown> {
  const out: Record<string, unknown> = { ...node };
  delete out.allOf;
  for (const [i, m] of (node.allOf as unknown[]).entries()) {
    if (!isObj(m)) continue;
    if (typeof m.$ref === 'string') {
      onRef(i);
      continue;
    }
    for (const [k, v] of Object.entries(m)) {
      if (k === 'properties' && isObj(v)) out.properties = { ...(isObj(out.properties) ? out.properties : {}), ...v };
      else if (k === 'required' && Array.isArray(v)) out.required = [...new Set([...(Array.isArray(out.required) ? out.required : []), ...v])];
      else if (!(k in out)) out[k] = v;
    }
  }
  return out;
}

function resolvePointer(root: unknown, pointer: string): unknown {
  let cur = root;
  for (const seg of pointerSegments(pointer)) {
    if (Array.isArray(cur)) cur = cur[Number(seg)];
    else if (isObj(cur)) cur = Object.prototype.hasOwnProperty.call(cur, seg) ? cur[seg] : undefined;
    else return undefined;
  }
  return cur;
}


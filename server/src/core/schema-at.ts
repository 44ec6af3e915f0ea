import type { CheckResult } from './check';
import { pointerSegments } from './schema-walk';

/**
 * The subschemas of the output schema that apply at an instance location (for completion and
 * hover inside `examples[i].expected`). Follows `properties`, `items`/`prefixItems`, the branches
 * of `oneOf`/`anyOf`/`allOf`, and `$ref`s (local ones and workspace files already read by the
 * checker). Best effort and bounded: it never fails, it returns fewer schemas.
 */

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface Scoped {
  schema: Obj;
  /** The document the schema lives in, for resolving `#/...` refs. */
  root: unknown;
}

const MAX_VISITS = 2000;

/** Schemas in force at `instance` ('*' or a number: an array item). */
export function schemasAt(r: CheckResult, instance: readonly (string | number)[]): Obj[] {
  const inline = r.prepared?.schema ?? (isObj(r.value) && isObj(r.value.output) ? r.value.output.schema : undefined);
  if (!isObj(inline)) return [];
  const ids = new Map<string, unknown>();
  for (const ext of r.prepared?.externals.values() ?? []) ids.set(ext.id, ext.schema);
  let budget = MAX_VISITS;

  const resolve = (ref: string, root: unknown): Scoped | undefined => {
    const hash = ref.indexOf('#');
    const base = hash < 0 ? ref : ref.slice(0, hash);
    const frag = hash < 0 ? '' : ref.slice(hash);
    const doc = base === '' ? root : ids.get(base);
    if (doc === undefined) return undefined;
    let cur: unknown = doc;
    for (const seg of pointerSegments(frag)) cur = Array.isArray(cur) ? cur[Number(seg)] : isObj(cur) ? cur[seg] : undefined;
    return isObj(cur) ? { schema: cur, root: doc } : undefined;
  };

  // A schema plus everything it delegates to at the same location.
  const expand = (start: Scoped[]): Scoped[] => {
    const out: Scoped[] = [];
    const seen = new Set<Obj>();
    const stack = [...start];
    while (stack.length && budget-- > 0) {
      const s = stack.pop()!;
      if (seen.has(s.schema)) continue;
      seen.add(s.schema);
      out.push(s);
      if (typeof s.schema.$ref === 'string') {
        const t = resolve(s.schema.$ref, s.root);
        if (t) stack.push(t);
      }
      for (const kw of ['allOf', 'anyOf', 'oneOf']) {
        const list = s.schema[kw];
        if (Array.isArray(list)) for (const b of list) if (isObj(b)) stack.push({ schema: b, root: s.root });
      }
      for (const kw of ['then', 'else']) {
        const b = s.schema[kw];
        if (isObj(b)) stack.push({ schema: b, root: s.root });
      }
    }
    return out;
  };

  let frontier = expand([{ schema: inline, root: inline }]);
  for (const seg of instance) {
    const next: Scoped[] = [];
    for (const s of frontier) {
      const sc = s.schema;
      if (typeof seg === 'string' && seg !== '*') {
        const props = sc.properties;
        if (isObj(props) && isObj(props[seg])) next.push({ schema: props[seg] as Obj, root: s.root });
        else if (isObj(sc.additionalProperties)) next.push({ schema: sc.additionalProperties, root: s.root });
      } else {
        const prefix = sc.prefixItems;
        if (typeof seg === 'number' && Array.isArray(prefix) && seg < prefix.length) {
          if (isObj(prefix[seg])) next.push({ schema: prefix[seg] as Obj, root: s.root });
        } else if (isObj(sc.items)) next.push({ schema: sc.items, root: s.root });
      }
    }
    frontier = expand(next);
    if (!frontier.length) break;
  }
  return frontier.map((s) => s.schema);
}

/** Property names (with descriptions) that objects at `instance` may have. */
export function propertiesAt(r: CheckResult, instance: readonly (string | number)[]): { name: string; description?: string; required: boolean }[] {
  const out = new Map<string, { name: string; description?: string; required: boolean }>();
  for (const s of schemasAt(r, instance)) {
    const req = Array.isArray(s.required) ? s.required.map(String) : [];
    if (!isObj(s.properties)) continue;
    for (const [name, sub] of Object.entries(s.properties)) {
      const prev = out.get(name);
      const description = isObj(sub) && typeof sub.description === 'string' ? sub.description : prev?.description;
      out.set(name, { name, description, required: (prev?.required ?? false) || req.includes(name) });
    }
  }
  return [...out.values()];
}

/** Values the schema allows at `instance`, when it lists them (enum, const, boolean, null). */
export function allowedValuesAt(r: CheckResult, instance: readonly (string | number)[]): unknown[] {
  const out: unknown[] = [];
  const seen = new Set<string>();
  const add = (v: unknown) => {
    const k = JSON.stringify(v);
    if (k === undefined || seen.has(k)) return;
    seen.add(k);
    out.push(v);
  };
  for (const s of schemasAt(r, instance)) {
    if (Array.isArray(s.enum)) s.enum.forEach(add);
    if ('const' in s) add(s.const);
    const types = Array.isArray(s.type) ? s.type : [s.type];
    if (types.includes('boolean')) [true, false].forEach(add);
    if (types.includes('null')) add(null);
  }
  return out;
}

/** A one-line summary of a schema's type for hovers: `string`, `enum: a | b`, `object`... */
export function typeSummary(s: Obj): string | undefined {
  if (Array.isArray(s.enum)) return `one of ${s.enum.map((v) => '`' + JSON.stringify(v) + '`').join(', ')}`;
  if ('const' in s) return `exactly \`${JSON.stringify(s.const)}\``;
  if (typeof s.type === 'string') return `\`${s.type}\``;
  if (Array.isArray(s.type)) return s.type.map((t) => `\`${String(t)}\``).join(' or ');
  if (Array.isArray(s.oneOf)) return `one of ${s.oneOf.length} schemas`;
  if (typeof s.$ref === 'string') return `\`$ref: ${s.$ref}\``;
  return undefined;
}

/** Iterative walks over JSON Schema values (no recursion: schemas may be deeply nested or hostile). */

export type SchemaPath = (string | number)[];

export const SCHEMA_MAP_KEYWORDS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'] as const;
export const SCHEMA_ARRAY_KEYWORDS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'] as const;
export const SCHEMA_SINGLE_KEYWORDS = ['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains', 'propertyNames', 'unevaluatedProperties', 'unevaluatedItems', 'additionalItems'] as const;

export interface SchemaVisit {
  schema: Record<string, unknown>;
  /** Path of this subschema from the root schema. */
  path: SchemaPath;
  /** Instance location pattern: property names, item indexes, or '*' for any array item. null when unknown (under $defs, not, propertyNames...). */
  instance: (string | number)[] | null;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Visits every subschema (objects only) with its path and the instance location it applies to. */
export function walkSchema(root: unknown, visit: (v: SchemaVisit) => void, maxNodes = 100_000): void {
  if (!isObj(root)) return;
  const stack: SchemaVisit[] = [{ schema: root, path: [], instance: [] }];
  let n = 0;
  while (stack.length && n++ < maxNodes) {
    const cur = stack.pop()!;
    visit(cur);
    const s = cur.schema;
    const inst = cur.instance;
    for (const kw of SCHEMA_MAP_KEYWORDS) {
      const m = s[kw];
      if (!isObj(m)) continue;
      for (const [name, sub] of Object.entries(m)) {
        if (!isObj(sub)) continue;
        const i = kw === 'properties' && inst ? [...inst, name] : null;
        stack.push({ schema: sub, path: [...cur.path, kw, name], instance: i });
      }
    }
    for (const kw of SCHEMA_ARRAY_KEYWORDS) {
      const a = s[kw];
      if (!Array.isArray(a)) continue;
      a.forEach((sub, idx) => {
        if (!isObj(sub)) return;
        const i = kw === 'prefixItems' ? (inst ? [...inst, idx] : null) : inst;
        stack.push({ schema: sub, path: [...cur.path, kw, idx], instance: i });
      });
    }
    for (const kw of SCHEMA_SINGLE_KEYWORDS) {
      const sub = s[kw];
      if (!isObj(sub)) continue;
      let i: (string | number)[] | null = null;
      if (inst && (kw === 'items' || kw === 'contains' || kw === 'additionalItems' || kw === 'unevaluatedItems')) i = [...inst, '*'];
      else if (inst && (kw === 'then' || kw === 'else' || kw === 'if')) i = inst;
      stack.push({ schema: sub, path: [...cur.path, kw], instance: i });
    }
  }
}

/** Values found at an instance pattern ('*' expands over array items). */
export function valuesAt(value: unknown, pattern: readonly (string | number)[]): unknown[] {
  let cur: unknown[] = [value];
  for (const seg of pattern) {
    const next: unknown[] = [];
    for (const v of cur) {
      if (seg === '*') {
        if (Array.isArray(v)) next.push(...v);
      } else if (typeof seg === 'number') {
        if (Array.isArray(v) && seg < v.length) next.push(v[seg]);
      } else if (isObj(v) && Object.prototype.hasOwnProperty.call(v, seg)) next.push(v[seg]);
    }
    cur = next;
  }
  return cur;
}

/** JSON Pointer (RFC 6901) helpers. */
export function pointerSegments(pointer: string): string[] {
  if (pointer === '' || pointer === '#') return [];
  const p = pointer.startsWith('#') ? pointer.slice(1) : pointer;
  return p
    .split('/')
    .slice(1)
    .map((s) => decodeURIComponentSafe(s).replace(/~1/g, '/').replace(/~0/g, '~'));
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function toPointer(path: readonly (string | number)[]): string {
  return path.map((s) => '/' + String(s).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

/** Instance pointer segments as a value path (numeric segments index arrays). */
export function instancePath(value: unknown, pointer: string): (string | number)[] {
  const out: (string | number)[] = [];
  let cur: unknown = value;
  for (const seg of pointerSegments(pointer)) {
    if (Array.isArray(cur) && /^\d+$/.test(seg)) {
      out.push(Number(seg));
      cur = cur[Number(seg)];
    } else {
      out.push(seg);
      cur = isObj(cur) ? cur[seg] : undefined;
    }
  }
  return out;
}

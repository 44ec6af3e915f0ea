import { isAlias, isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Node, type Pair } from 'yaml';

/** A path into the parsed value: object keys and array indexes. */
export type Path = readonly (string | number)[];

export const MAX_DEPTH = 200;
export const MAX_ALIAS_COUNT = 1000;

export interface YamlSource {
  text: string;
  doc: Document.Parsed;
}

// Duplicate keys are found in one linear pass by the checker (the parser's own check is quadratic
// in the number of keys); warnings the parser would print go nowhere (they are findings or noise).
export const YAML_OPTIONS = { uniqueKeys: false, prettyErrors: false, keepSourceTokens: false, strict: true, stringKeys: false, logLevel: 'error' } as const;

export function parseYaml(text: string): YamlSource {
  const doc = parseDocument(text, YAML_OPTIONS);
  return { text, doc };
}

/** First line of a parser message, without its "at line N, column M" suffix (the range says where). */
export function cleanYamlMessage(message: string): string {
  const first = message.split('\n')[0] ?? message;
  return first.replace(/ at line \d+, column \d+:?$/, '').trim();
}

function resolveAlias(src: YamlSource, node: unknown): unknown {
  let n = node;
  for (let i = 0; i < 16 && isAlias(n); i++) n = n.resolve(src.doc);
  return n;
}

function pairFor(map: { items: Pair[] }, key: string | number): Pair | undefined {
  for (const p of map.items) {
    const k = isScalar(p.key) ? p.key.value : p.key;
    if (k === key || (k !== null && k !== undefined && String(k) === String(key))) return p;
  }
  return undefined;
}

export interface Located {
  /** The value node at the path (undefined when the path runs past the document). */
  node?: Node;
  /** The key node of the pair holding the value, when the value sits in a mapping. */
  key?: Node;
  /** The deepest node reached along the path. */
  deepest: Node | undefined;
  deepestKey?: Node;
  /** How many path segments were resolved. */
  depth: number;
}

/** Follows a path from the document root. The one place where value paths become YAML nodes. */
export function locate(src: YamlSource, path: Path, from?: Node): Located {
  let cur = resolveAlias(src, from ?? src.doc.contents) as Node | undefined;
  let key: Node | undefined;
  let depth = 0;
  const result: Located = { deepest: cur, depth: 0 };
  for (const seg of path) {
    if (isMap(cur)) {
      const p = pairFor(cur, seg);
      if (!p) break;
      key = p.key as Node;
      cur = resolveAlias(src, p.value) as Node | undefined;
    } else if (isSeq(cur) && typeof seg === 'number') {
      const item = cur.items[seg];
      if (item === undefined) break;
      key = undefined;
      cur = resolveAlias(src, item) as Node | undefined;
    } else break;
    depth++;
    result.deepest = cur ?? result.deepest;
    result.deepestKey = key;
    if (cur === undefined || cur === null) break;
  }
  result.depth = depth;
  if (depth === path.length) {
    result.node = cur ?? undefined;
    result.key = key;
  }
  return result;
}

export function nodeRange(node: Node | undefined | null): [number, number] | undefined {
  const r = node?.range;
  if (!r) return undefined;
  return [r[0], r[1]];
}

/** Range of the value at path; falls back to the key, then to the deepest node reached, then the first line. */
export function valueRange(src: YamlSource, path: Path): [number, number] {
  const l = locate(src, path);
  return nodeRange(l.node) ?? nodeRange(l.key) ?? nodeRange(l.deepestKey) ?? nodeRange(l.deepest) ?? firstLine(src.text);
}

/** Range of the key that holds the value at path (the value's parent key); for a sequence item, its first key. */
export function keyRange(src: YamlSource, path: Path): [number, number] {
  if (path.length === 0) {
    const root = src.doc.contents;
    if (isMap(root) && root.items[0]) return nodeRange(root.items[0].key as Node) ?? firstLine(src.text);
    return firstLine(src.text);
  }
  const l = locate(src, path);
  if (l.key) return nodeRange(l.key)!;
  if (l.node && isMap(l.node) && l.node.items[0]) return nodeRange(l.node.items[0].key as Node) ?? nodeRange(l.node)!;
  if (l.node) return nodeRange(l.node)!;
  return nodeRange(l.deepestKey) ?? nodeRange(l.deepest) ?? firstLine(src.text);
}

export function firstLine(text: string): [number, number] {
  const nl = text.search(/\r?\n/);
  return [0, nl < 0 ? text.length : nl];
}

export interface PathHit {
  path: (string | number)[];
  /** True when the offset is on a key rather than on its value. */
  onKey: boolean;
  node?: Node;
}

/** The path of the innermost node that contains the offset (for hover and completion). */
export function pathAtOffset(src: YamlSource, offset: number): PathHit {
  const path: (string | number)[] = [];
  let cur: unknown = src.doc.contents;
  for (let guard = 0; guard < MAX_DEPTH; guard++) {
    if (isMap(cur)) {
      let next: unknown;
      for (const p of cur.items) {
        const k = p.key as Node | null;
        const kr = k?.range;
        const keyVal = isScalar(k) ? k.value : undefined;
        if (kr && offset >= kr[0] && offset <= kr[1]) {
          path.push(keyVal as string);
          return { path, onKey: true, node: k ?? undefined };
        }
        const v = p.value as Node | null;
        const vr = v?.range;
        if (vr && offset >= vr[0] && offset <= vr[1]) {
          path.push(keyVal as string);
          next = v;
          break;
        }
      }
      if (next === undefined) return { path, onKey: false, node: cur as Node };
      cur = next;
    } else if (isSeq(cur)) {
      let next: unknown;
      cur.items.forEach((item, i) => {
        const r = (item as Node | null)?.range;
        if (next === undefined && r && offset >= r[0] && offset <= r[1]) {
          path.push(i);
          next = item;
        }
      });
      if (next === undefined) return { path, onKey: false, node: cur as Node };
      cur = next;
    } else {
      return { path, onKey: false, node: (cur as Node) ?? undefined };
    }
  }
  return { path, onKey: false };
}

export { isMap, isPair, isScalar, isSeq, isAlias };

import { Document, isMap, isScalar, isSeq, parseDocument, Pair, YAMLMap, YAMLSeq, type Node } from 'yaml';
import { parseYaml, YAML_OPTIONS, type YamlSource } from './yaml-source';

/**
 * Re-parses only what changed. A contract is split at its top-level keys and at the items of its
 * `examples:` sequence; each segment is parsed alone and cached by its text, so a keystroke in one
 * example re-parses that example only. Whenever the split could change the meaning (anchors and
 * aliases, directives, several documents, flow-style examples, any parse error, a repeated key) the
 * whole text is parsed the ordinary way instead. The two paths must give identical results: a test
 * compares them over random edits.
 */

interface Segment {
  text: string;
  offset: number;
  kind: 'top' | 'item';
  /** Nodes of the segment, with ranges shifted to `offset`. */
  nodes: Node[];
  /** The top-level pairs (kind 'top') or the sequence item (kind 'item'). */
  pairs?: Pair[];
  item?: Node;
}

const OPTIONS = YAML_OPTIONS;

export class IncrementalYaml {
  private cache = new Map<string, Segment[]>();
  /** Number of segments parsed by the last call (for tests and benchmarks). */
  lastParsed = 0;
  lastMode: 'incremental' | 'full' = 'full';

  parse(text: string): YamlSource {
    const split = splitSegments(text);
    if (!split) return this.full(text);
    const next = new Map<string, Segment[]>();
    const segments: Segment[] = [];
    let parsed = 0;
    for (const s of split) {
      const pool = this.cache.get(s.text);
      let seg = pool?.pop();
      if (seg) {
        if (seg.offset !== s.offset) shift(seg.nodes, s.offset - seg.offset);
        seg.offset = s.offset;
      } else {
        parsed++;
        seg = parseSegment(s.text, s.offset, s.kind);
        if (!seg) return this.full(text);
      }
      segments.push(seg);
      const list = next.get(s.text);
      if (list) list.push(seg);
      else next.set(s.text, [seg]);
    }
    // Later lookups pop from the end: keep each list in document order reversed.
    for (const list of next.values()) list.reverse();
    const doc = assemble(text, segments);
    if (!doc) return this.full(text);
    this.cache = next;
    this.lastParsed = parsed;
    this.lastMode = 'incremental';
    return { text, doc };
  }

  private full(text: string): YamlSource {
    this.cache = new Map();
    this.lastParsed = 1;
    this.lastMode = 'full';
    return parseYaml(text);
  }
}

interface RawSegment {
  text: string;
  offset: number;
  kind: 'top' | 'item';
}

const UNSAFE = /(^|[\s,[{])[&*!][^\s,\]}]|^(%|---|\.\.\.)|\t/m;

function splitSegments(text: string): RawSegment[] | undefined {
  if (text.length < 4096) return undefined; // small files: one ordinary parse is cheap enough
  if (UNSAFE.test(text)) return undefined;
  const out: RawSegment[] = [];
  let segStart = 0;
  let kind: 'top' | 'item' = 'top';
  let inExamples = false;
  let itemIndent = -1;
  let pos = 0;
  const keys = new Set<string>();
  const cut = (at: number, nextKind: 'top' | 'item') => {
    if (at > segStart) out.push({ text: text.slice(segStart, at), offset: segStart, kind });
    segStart = at;
    kind = nextKind;
  };
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    end = end < 0 ? text.length : end + 1;
    const c = text.charCodeAt(pos);
    if (c === 13) return undefined; // CR line ends: leave them to the full parser
    const blank = /^[ ]*(#.*)?\r?\n?$/.test(text.slice(pos, end));
    if (!blank) {
      if (c !== 32 && c !== 45 /* - */) {
        // A top-level key line.
        const m = /^([A-Za-z_][\w.-]*)[ ]*:(?:[ ]|$|\r?\n)/.exec(text.slice(pos, end));
        if (!m) return undefined;
        if (keys.has(m[1]!)) return undefined;
        keys.add(m[1]!);
        cut(pos, 'top');
        inExamples = m[1] === 'examples';
        itemIndent = -1;
        if (inExamples && !/^examples:[ ]*(#.*)?\r?\n?$/.test(text.slice(pos, end))) return undefined; // flow-style examples
      } else if (inExamples) {
        const m = /^([ ]*)- /.exec(text.slice(pos, end)) ?? /^([ ]*)-\r?\n?$/.exec(text.slice(pos, end));
        if (m) {
          const indent = m[1]!.length;
          if (itemIndent < 0) itemIndent = indent;
          if (indent === itemIndent) cut(pos, 'item');
        } else if (c !== 32) return undefined;
      } else if (c === 45) return undefined; // a top-level sequence
    }
    pos = end;
  }
  cut(text.length, 'top');
  return out;
}

function parseSegment(text: string, offset: number, kind: 'top' | 'item'): Segment | undefined {
  const doc = parseDocument(text, OPTIONS);
  if (doc.errors.length || doc.warnings.length) return undefined;
  const nodes = collectNodes(doc.contents);
  const seg: Segment = { text, offset: 0, kind, nodes };
  if (kind === 'top') {
    if (doc.contents === null) seg.pairs = [];
    else if (isMap(doc.contents)) seg.pairs = doc.contents.items as Pair[];
    else return undefined;
  } else {
    if (!isSeq(doc.contents) || doc.contents.items.length !== 1) return undefined;
    seg.item = doc.contents.items[0] as Node;
    if (!seg.item) return undefined;
  }
  shift(nodes, offset);
  seg.offset = offset;
  return seg;
}

function collectNodes(root: unknown): Node[] {
  const out: Node[] = [];
  const stack: unknown[] = [root];
  while (stack.length) {
    const n = stack.pop() as Node | null;
    if (!n || typeof n !== 'object') continue;
    if ((n as { range?: unknown }).range) out.push(n);
    if (isMap(n)) for (const p of n.items) stack.push(p.key, p.value);
    else if (isSeq(n)) for (const i of n.items) stack.push(i);
  }
  return out;
}

function shift(nodes: Node[], delta: number): void {
  if (!delta) return;
  for (const n of nodes) {
    const r = n.range;
    if (r) n.range = [r[0] + delta, r[1] + delta, r[2] + delta];
  }
}

function assemble(text: string, segments: Segment[]): Document.Parsed | undefined {
  const root = new YAMLMap();
  let examples: YAMLSeq | undefined;
  let rootStart = -1;
  for (const seg of segments) {
    if (seg.kind === 'top') {
      for (const p of seg.pairs ?? []) {
        const k = p.key as Node | null;
        if (rootStart < 0 && k?.range) rootStart = k.range[0];
        if ((k as { value?: unknown } | null)?.value === 'examples') {
          const v = p.value as Node | null;
          if (v !== null && !(isScalar(v) && v.value === null)) return undefined;
          examples = new YAMLSeq();
          root.items.push(new Pair(p.key, examples));
        } else root.items.push(p);
      }
    } else {
      if (!examples) return undefined;
      examples.items.push(seg.item);
    }
  }
  if (examples) {
    const first = examples.items[0] as Node | undefined;
    const last = examples.items[examples.items.length - 1] as Node | undefined;
    if (first?.range && last?.range) examples.range = [first.range[0], last.range[1], last.range[2]];
  }
  root.range = [Math.max(0, rootStart), text.length, text.length];
  const doc = new Document(null, OPTIONS) as unknown as Document.Parsed;
  doc.contents = root as unknown as Document.Parsed['contents'];
  return doc;
}

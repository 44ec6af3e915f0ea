/**
 * Where the cursor is, structurally, read from indentation and the current line rather than from
 * the parsed document: while a user types, the YAML is usually incomplete or invalid, and a parser
 * would place the cursor nowhere. Handles block mappings and sequences (compact `- key:` items
 * included) and a flow collection (`{ a: x, b: [` ...) on the cursor's line.
 */

export type Segment = string | number;

export interface CursorContext {
  /**
   * `key`: a mapping key is being typed; `path` is the mapping's path.
   * `value`: a scalar value is being typed; `path` ends with its key (or item index).
   * `text`: inside a multi-line scalar (block `|`/`>` or a continued plain/quoted one); `path` is the scalar's.
   */
  kind: 'key' | 'value' | 'text';
  path: Segment[];
  /** The partial word the completion replaces: [start, end) offsets. */
  replaceStart: number;
  replaceEnd: number;
  /** The text typed so far in that word. */
  partial: string;
  /** Keys already present in the mapping (for `key`), other than the one being typed. */
  siblings: string[];
  /** True when the cursor sits inside a flow collection (`{...}` / `[...]`). */
  flow: boolean;
  /** For `key`: a `:` already follows the word, so only the name is to be inserted. */
  hasColon?: boolean;
}

interface Line {
  /** Column of the first non-space character. */
  indent: number;
  /** Column of the first `- ` of a sequence item, when the line starts one. */
  dashCol?: number;
  /** Column where the mapping key (or scalar) starts, after any `- `. */
  keyCol: number;
  key?: string;
  /** What follows `key:` without a trailing comment, trimmed. */
  rest: string;
  blank: boolean;
}

const KEY = /^(?:"((?:[^"\\]|\\.)*)"|'((?:[^']|'')*)'|([^\s#'"{}[\],&*!|>%@`][^#]*?))[ \t]*:(?=[ \t]|$)/;

function parseKey(s: string): { key: string; length: number } | undefined {
  const m = KEY.exec(s);
  if (!m) return undefined;
  const key = m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2] !== undefined ? m[2].replace(/''/g, "'") : m[3]!.trimEnd();
  return { key, length: m[0].length };
}

function stripComment(s: string): string {
  // A `#` starts a comment at the start or after whitespace (quotes are not tracked: best effort).
  const m = /(^|[ \t])#/.exec(s);
  return (m ? s.slice(0, m.index) : s).trim();
}

function readLine(text: string): Line {
  const indent = text.length - text.trimStart().length;
  const body = text.slice(indent);
  if (body === '' || body.startsWith('#')) return { indent, keyCol: indent, rest: '', blank: true };
  let pos = indent;
  let dashCol: number | undefined;
  while (/^-(?=[ \t]|$)/.test(text.slice(pos))) {
    dashCol ??= pos;
    pos++;
    while (text[pos] === ' ' || text[pos] === '\t') pos++;
  }
  const k = parseKey(text.slice(pos));
  const line: Line = { indent, keyCol: pos, rest: k ? stripComment(text.slice(pos + k.length)) : stripComment(text.slice(pos)), blank: false };
  if (dashCol !== undefined) line.dashCol = dashCol;
  if (k) line.key = k.key;
  return line;
}

/** A value that opens a nested block (nothing, or only an anchor/tag). */
function opensBlock(rest: string): boolean {
  return rest === '' || /^([&!][^\s]*\s*)+$/.test(rest);
}

interface Structure {
  path: Segment[];
  /** The cursor sits inside a multi-line scalar owned by the last key of `path`. */
  inScalar: boolean;
  siblingsAbove: string[];
}

/**
 * The path of the block mapping whose keys start at `keyCol` and that contains line `row`,
 * found by walking up the lines. `itemDash`: the cursor's own line starts a sequence item there.
 */
function structureAbove(lines: string[], row: number, keyCol: number, itemDash: number | undefined): Structure {
  const path: Segment[] = [];
  const siblingsAbove: string[] = [];
  let inScalar = false;
  let mode: 'map' | 'seq' = itemDash !== undefined ? 'seq' : 'map';
  let col = itemDash ?? keyCol;
  let items = 1;
  let collectSiblings = true;
  let i = row - 1;
  while (i >= 0) {
    const l = readLine(lines[i]!);
    if (l.blank) {
      i--;
      continue;
    }
    if (mode === 'map') {
      if (l.keyCol === col && l.dashCol !== undefined && l.dashCol < col) {
        if (collectSiblings && l.key !== undefined) siblingsAbove.push(l.key);
        collectSiblings = false;
        mode = 'seq';
        col = l.dashCol;
        items = 1;
        i--;
        continue;
      }
      if (l.indent >= col) {
        if (l.indent === col && collectSiblings && l.key !== undefined) siblingsAbove.push(l.key);
        i--;
        continue;
      }
      // A line left of the mapping: its owner.
      if (l.key === undefined) break;
      collectSiblings = false;
      path.unshift(l.key);
      if (!opensBlock(l.rest)) inScalar = path.length === 1 || inScalar;
      col = l.keyCol;
      // Re-read the same line as a member of the enclosing mapping (it may start an item).
      continue;
    } else {
      if (l.dashCol === col) {
        items++;
        i--;
        continue;
      }
      if (l.indent > col) {
        i--;
        continue;
      }
      // The key that owns the sequence (at the dashes' column too: `key:` then `- item`).
      if (l.key !== undefined && opensBlock(l.rest) && l.keyCol <= col) {
        path.unshift(l.key, items - 1);
        mode = 'map';
        col = l.keyCol;
        continue;
      }
      break;
    }
  }
  if (mode === 'seq' && i < 0) path.unshift(items - 1);
  return { path, inScalar, siblingsAbove };
}

function siblingsBelow(lines: string[], row: number, keyCol: number): string[] {
  const out: string[] = [];
  for (let i = row + 1; i < lines.length; i++) {
    const l = readLine(lines[i]!);
    if (l.blank) continue;
    if (l.indent < keyCol) break;
    if (l.indent === keyCol && l.key !== undefined) out.push(l.key);
  }
  return out;
}

interface FlowFrame {
  type: 'map' | 'seq';
  key?: string;
  afterColon: boolean;
  index: number;
  keys: string[];
  /** Path segment from the enclosing frame. */
  seg?: Segment;
}

/** Reads a flow collection up to the cursor. Undefined when the cursor is not inside one. */
function flowContext(s: string): { path: Segment[]; kind: 'key' | 'value'; partial: string; siblings: string[] } | undefined {
  const stack: FlowFrame[] = [];
  let buf = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    const top = stack[stack.length - 1];
    if (c === '"' || c === "'") {
      const end = c === '"' ? findDoubleQuoteEnd(s, i) : s.indexOf("'", i + 1);
      if (end < 0) {
        buf += s.slice(i);
        break;
      }
      buf += s.slice(i, end + 1);
      i = end;
    } else if (c === '{' || c === '[') {
      const seg = top ? (top.type === 'map' ? top.key : top.index) : undefined;
      const frame: FlowFrame = { type: c === '{' ? 'map' : 'seq', afterColon: false, index: 0, keys: [] };
      if (seg !== undefined) frame.seg = seg;
      stack.push(frame);
      buf = '';
    } else if (c === '}' || c === ']') {
      stack.pop();
      buf = '';
    } else if (c === ',' && top) {
      if (top.type === 'map') {
        top.afterColon = false;
        delete top.key;
      } else top.index++;
      buf = '';
    } else if (c === ':' && top?.type === 'map' && !top.afterColon && (i + 1 >= s.length || /[\s,}\]]/.test(s[i + 1]!))) {
      top.key = unquote(buf.trim());
      top.keys.push(top.key);
      top.afterColon = true;
      buf = '';
    } else if (c === '#' && /\s/.test(s[i - 1] ?? ' ')) {
      return undefined;
    } else buf += c;
  }
  if (!stack.length) return undefined;
  const top = stack[stack.length - 1]!;
  const path: Segment[] = [];
  for (const f of stack.slice(1)) path.push(f.seg ?? 0);
  const partial = buf.trimStart();
  if (top.type === 'map' && !top.afterColon) return { path, kind: 'key', partial, siblings: top.keys };
  if (top.type === 'map') return { path: [...path, top.key ?? ''], kind: 'value', partial, siblings: top.keys };
  return { path: [...path, top.index], kind: 'value', partial, siblings: [] };
}

function findDoubleQuoteEnd(s: string, from: number): number {
  for (let i = from + 1; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === '"') return i;
  }
  return -1;
}

function unquote(s: string): string {
  if (s.length >= 2 && s.startsWith('"') && s.endsWith('"')) {
    try {
      return JSON.parse(s) as string;
    } catch {
      return s.slice(1, -1);
    }
  }
  if (s.length >= 2 && s.startsWith("'") && s.endsWith("'")) return s.slice(1, -1).replace(/''/g, "'");
  return s;
}

const PARTIAL_KEY = /^[\w$./-]*$/;

/** The structural context at `offset` of `text`. */
export function cursorContext(text: string, offset: number): CursorContext {
  const lineStart = Math.max(text.lastIndexOf('\n', offset - 1), text.lastIndexOf('\r', offset - 1)) + 1;
  let lineEnd = text.slice(offset).search(/\r|\n/);
  lineEnd = lineEnd < 0 ? text.length : offset + lineEnd;
  const lines = text.slice(0, lineStart).split(/\r\n|\r|\n/);
  lines.pop();
  const row = lines.length;
  const all = lines.concat(text.slice(lineStart).split(/\r\n|\r|\n/));
  const col = offset - lineStart;
  const line = text.slice(lineStart, lineEnd);
  const before = line.slice(0, col);
  const wordAfter = /^[\w$./-]*/.exec(line.slice(col))![0];

  const lead = /^([ \t]*)((?:-[ \t]+)*)/.exec(before)!;
  const keyCol = lead[0].length;
  const dashCol = lead[2] ? lead[1]!.length : undefined;
  const typed = before.slice(keyCol);

  // Inside a multi-line scalar? The line's owner decides.
  const ownerIndent = lead[1]!.length;
  const owner = structureAbove(all, row, ownerIndent, undefined);

  if (PARTIAL_KEY.test(typed) && !owner.inScalar) {
    const s = structureAbove(all, row, keyCol, dashCol);
    const below = siblingsBelow(all, row, keyCol);
    const siblings = dashCol !== undefined ? below : [...s.siblingsAbove, ...below];
    const hasColon = /^[ \t]*:(?=[ \t]|$)/.test(line.slice(col + wordAfter.length));
    return { kind: 'key', path: s.path, replaceStart: offset - typed.length, replaceEnd: offset + wordAfter.length, partial: typed, siblings, flow: false, hasColon };
  }
  const k = parseKey(typed);
  if (k && !owner.inScalar) {
    const s = structureAbove(all, row, keyCol, dashCol);
    const valueText = typed.slice(k.length);
    const valueStart = offset - valueText.length;
    const f = /^\s*[{[]/.test(valueText) ? flowContext(valueText) : undefined;
    if (f) {
      const after = f.kind === 'key' ? wordAfter : /^[^,}\]#]*/.exec(line.slice(col))![0].trimEnd();
      const hasColon = f.kind === 'key' && /^[ \t]*:/.test(line.slice(col + after.length));
      return { kind: f.kind, path: [...s.path, k.key, ...f.path], replaceStart: offset - f.partial.length, replaceEnd: offset + after.length, partial: f.partial, siblings: f.siblings, flow: true, hasColon };
    }
    const partial = valueText.trimStart();
    const rest = stripComment(line.slice(col));
    return { kind: 'value', path: [...s.path, k.key], replaceStart: valueStart + (valueText.length - partial.length), replaceEnd: offset + rest.length, partial, siblings: [], flow: false };
  }
  if (dashCol !== undefined && !owner.inScalar) {
    // A scalar item of a block sequence: `- valu|`.
    const s = structureAbove(all, row, keyCol, dashCol);
    const rest = stripComment(line.slice(col));
    return { kind: 'value', path: s.path, replaceStart: offset - typed.length, replaceEnd: offset + rest.length, partial: typed, siblings: [], flow: false };
  }
  return { kind: 'text', path: owner.path, replaceStart: offset, replaceEnd: offset, partial: '', siblings: [], flow: false };
}

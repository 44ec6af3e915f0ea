/**
 * "Accept actual output as expected": the text edit that makes a model's output an example's
 * `expected` value. Pure: takes the current version's check, returns an offset edit.
 *
 * The new value is written in the style of the one it replaces: a flow collection stays flow
 * (`{ label: billing, urgent: false }`), a block mapping stays block at its indentation, a scalar
 * stays on its line. Keys come in the schema's `properties` order (the order constrained decoding
 * writes them in); strings are quoted only where YAML needs it (the `yaml` library decides).
 * Without an `expected`, one is inserted after `input`, in the style the other examples use.
 * The edit is verified before it is offered: the edited text must parse and hold exactly the
 * output at that example's `expected`; otherwise there is no edit.
 */
import { Document, visit, type Node } from 'yaml';
import type { CheckResult } from './check';
import { orderLikeSchema } from './dataset';
import { isMap, isScalar, isSeq, locate, parseYaml, type YamlSource } from './yaml-source';

export interface OffsetEdit {
  /** UTF-16 offsets into the checked text; `start === end` inserts. */
  start: number;
  end: number;
  newText: string;
}

type Style = 'flow' | 'block';

// No folding of long lines; multi-line strings are double-quoted (see render).
const STRINGIFY = { lineWidth: 1_000_000, minContentWidth: 0, flowCollectionPadding: true, blockQuote: false, indent: 2, indentSeq: true } as const;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The value as YAML text, without a trailing newline: one line in flow style, lines at indent 0 in block style. */
export function renderYamlValue(value: unknown, style: Style): string {
  const doc = new Document(value);
  visit(doc, {
    Scalar(_, n) {
      if (typeof n.value === 'string' && /[\n\r\u2028\u2029]/.test(n.value)) n.type = 'QUOTE_DOUBLE';
    },
    Map(_, n) {
      if (style === 'flow') n.flow = true;
    },
    Seq(_, n) {
      if (style === 'flow') n.flow = true;
    },
  });
  return doc.toString(STRINGIFY).replace(/\n$/, '');
}

function lineStart(text: string, offset: number): number {
  let i = offset;
  while (i > 0 && text[i - 1] !== '\n' && text[i - 1] !== '\r') i--;
  return i;
}

function lineEnd(text: string, offset: number): number {
  let i = offset;
  while (i < text.length && text[i] !== '\n' && text[i] !== '\r') i++;
  return i;
}

function eolOf(text: string): string {
  return text.includes('\r\n') ? '\r\n' : '\n';
}

/** Block text (lines at indent 0) indented for a value whose first line starts at `indent`. */
function indentBlock(block: string, indent: string, eol: string): string {
  return block
    .split('\n')
    .map((l, i) => (i === 0 || l === '' ? l : indent + l))
    .join(eol);
}

/** The schema of the contract's output (for key order). */
function outputSchema(check: CheckResult): unknown {
  if (check.contract) return check.contract.output.schema;
  const v = check.value;
  return isObj(v) && isObj(v.output) ? v.output.schema : undefined;
}

/** How the other examples write `expected` (flow when any of them does), else how `input` is written here. */
function preferredStyle(src: YamlSource, index: number, input: Node | undefined): Style {
  const examples = locate(src, ['examples']).node;
  if (isSeq(examples)) {
    for (let i = 0; i < examples.items.length; i++) {
      if (i === index) continue;
      const e = locate(src, ['examples', i, 'expected']).node;
      if ((isMap(e) || isSeq(e)) && e.items.length) return e.flow ? 'flow' : 'block';
    }
  }
  return (isMap(input) || isSeq(input)) && !input.flow ? 'block' : 'flow';
}

function replaceValue(text: string, node: Node, value: unknown): OffsetEdit | undefined {
  const [start, end] = node.range ?? [];
  if (start === undefined || end === undefined) return undefined;
  const eol = eolOf(text);
  if ((isMap(node) || isSeq(node)) && !node.flow) {
    if (!node.items.length) return undefined;
    const indent = text.slice(lineStart(text, start), start);
    if (/\S/.test(indent)) return undefined; // a block collection that does not start its line (`- key: v` items): not ours to rewrite
    const old = text.slice(start, end);
    const trailing = /\r?\n$/.test(old) ? eol : '';
    return { start, end, newText: indentBlock(renderYamlValue(value, 'block'), indent, eol) + trailing };
  }
  // A flow collection or a scalar: the new value goes on the same spot, on one line.
  return { start, end, newText: renderYamlValue(value, 'flow') };
}

function insertAfterInput(src: YamlSource, index: number, value: unknown): OffsetEdit | undefined {
  const text = src.text;
  const item = locate(src, ['examples', index]).node;
  if (!isMap(item) || item.flow || !item.items.length) return undefined;
  const after = locate(src, ['examples', index, 'input']);
  const anchor = after.key ? after : locate(src, ['examples', index, 'name']);
  const keyNode = anchor.key ?? (item.items[item.items.length - 1]!.key as Node | null) ?? undefined;
  const keyStart = keyNode?.range?.[0];
  if (keyStart === undefined) return undefined;
  const pair = item.items.find((p) => p.key === keyNode);
  const valueNode = (pair?.value as Node | null) ?? undefined;
  const indent = ' '.repeat(keyStart - lineStart(text, keyStart));
  const eol = eolOf(text);
  const style = preferredStyle(src, index, after.node);
  const body = style === 'flow' || !(isObj(value) || Array.isArray(value)) || (Array.isArray(value) ? !value.length : !Object.keys(value).length)
    ? ` ${renderYamlValue(value, 'flow')}`
    : eol + indent + '  ' + indentBlock(renderYamlValue(value, 'block'), indent + '  ', eol);
  const line = `${indent}expected:${body}`;
  const valueEnd = valueNode?.range?.[1] ?? keyNode?.range?.[1] ?? keyStart;
  // A block value's range ends after its last newline; a flow or scalar one mid-line.
  if (valueEnd > 0 && (text[valueEnd - 1] === '\n' || text[valueEnd - 1] === '\r')) return { start: valueEnd, end: valueEnd, newText: line + eol };
  const end = lineEnd(text, valueEnd);
  return { start: end, end, newText: eol + line };
}

/** The text with the edit applied. */
export function applyOffsetEdit(text: string, edit: OffsetEdit): string {
  return text.slice(0, edit.start) + edit.newText + text.slice(edit.end);
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The edit that sets example `index`'s `expected` to `output` (keys in the schema's order), or
 * undefined when it cannot be written safely (the document does not parse, the example is a flow
 * item, or the edited text would not read back as exactly that value).
 */
export function acceptOutputEdit(check: CheckResult, index: number, output: unknown): OffsetEdit | undefined {
  const src = check.source;
  if (!src || src.doc.errors.length || output === undefined) return undefined;
  const value = orderLikeSchema(output, outputSchema(check));
  const l = locate(src, ['examples', index, 'expected']);
  let edit: OffsetEdit | undefined;
  if (l.key && l.node && !isScalarNull(l.node)) edit = replaceValue(src.text, l.node, value);
  else if (l.key) edit = replaceEmpty(src, l.key, value);
  else edit = insertAfterInput(src, index, value);
  if (!edit) return undefined;
  const after = parseYaml(applyOffsetEdit(src.text, edit));
  if (after.doc.errors.length) return undefined;
  const node = locate(after, ['examples', index, 'expected']).node;
  return node && sameJson(node.toJSON(), value) ? edit : undefined;
}

/** `expected:` with nothing after it (a null without source text). */
function isScalarNull(node: Node): boolean {
  return isScalar(node) && node.value === null && (node.range?.[0] ?? 0) === (node.range?.[1] ?? 0);
}

function replaceEmpty(src: YamlSource, key: Node, value: unknown): OffsetEdit | undefined {
  const keyEnd = key.range?.[1];
  if (keyEnd === undefined) return undefined;
  const colon = src.text.indexOf(':', keyEnd);
  if (colon < 0) return undefined;
  const end = lineEnd(src.text, colon + 1);
  const comment = /\s#.*$/.exec(src.text.slice(colon + 1, end))?.[0].trim();
  return { start: colon + 1, end, newText: ` ${renderYamlValue(value, 'flow')}${comment ? ` ${comment}` : ''}` };
}

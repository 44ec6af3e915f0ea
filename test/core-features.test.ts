import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkContract } from '../server/src/core/check';
import { completionsAt } from '../server/src/core/completion';
import { cursorContext } from '../server/src/core/cursor-context';
import { hoverAt } from '../server/src/core/hover';
import { codeLenses } from '../server/src/core/lenses';
import type { ResultsStore } from '../server/src/core/results-store';
import { documentSymbols, type ContractSymbol } from '../server/src/core/symbols';
import { caret } from './support/lsp-client';

const host = { readFile: () => undefined };

// Prompts are quoted (not block scalars) so that `|` is free to mark the caret.
const CONTRACT = `contract: demo
description: Route complaints.
prompt:
  system: "Answer with JSON only."
  user: "Classify {{complaint}} for a {{tier}} customer as billing or shipping, with label and urgent."
output:
  schema:
    type: object
    additionalProperties: false
    required: [label, urgent]
    properties:
      label: { enum: [billing, shipping], description: The team that owns it. }
      urgent: { type: boolean }
  match: fields
examples:
  - name: double charge
    description: Charged twice.
    input: { complaint: "charged twice", tier: gold }
    expected: { label: billing, urgent: true }
  - name: late parcel
    input:
      complaint: "parcel late"
      tier: basic
    expected:
      label: shipping
      urgent: false
`;

/** The contract with `find` replaced by `marked` (which holds the caret). */
function at(find: string, marked: string, base = CONTRACT) {
  assert.ok(base.includes(find), `fixture has no ${JSON.stringify(find)}`);
  const m = caret(base.replace(find, marked));
  return { ...m, result: checkContract(m.text, { host, file: '/ws/demo.contract.yaml' }) };
}

function hover(find: string, marked: string, opts = {}, base = CONTRACT): string {
  const m = at(find, marked, base);
  return hoverAt(m.result, m.offset, opts)?.markdown ?? '';
}

function labels(find: string, marked: string, base = CONTRACT): string[] {
  const m = at(find, marked, base);
  return completionsAt(m.result, m.offset).map((c) => c.label);
}

describe('the fixture', () => {
  test('is a valid contract without findings', () => {
    const r = checkContract(CONTRACT, { host, file: '/ws/demo.contract.yaml' });
    assert.deepEqual(r.findings.map((f) => f.code), []);
  });
});

describe('hover', () => {
  test('a contract key shows the format description, allowed values and default', () => {
    const h = hover('  match: fields', '  ma|tch: fields');
    assert.match(h, /^\*\*`match`\*\* · `output\.match`\n\nHow an output is compared with `expected`/);
    assert.match(h, /one of `exact`, `fields`, `subset` · default `"exact"`$/);
  });

  test('the value of an enum key of the format explains the key', () => {
    assert.match(hover('  match: fields', '  match: fi|elds'), /^\*\*`match`\*\*/);
  });

  test('a top-level key', () => {
    assert.equal(hover('contract: demo', 'con|tract: demo'), "**`contract`** · `contract`\n\nThe contract's name, unique in the workspace.");
  });

  test('a JSON Schema keyword inside output.schema', () => {
    assert.match(hover('    additionalProperties: false', '    additional|Properties: false'), /^\*\*JSON Schema `additionalProperties`\*\*: /);
  });

  test('a keyword that constrained decoding ignores says so', () => {
    const base = CONTRACT.replace('urgent: { type: boolean }', 'urgent: { type: boolean }\n      score: { type: number, minimum: 0 }');
    const h = hover('minimum: 0', 'mini|mum: 0', {}, base);
    assert.match(h, /\*\*JSON Schema `minimum`\*\*: Smallest allowed number \(inclusive\)\.\n\nConstrained decoding: `minimum` is not enforced by constrained decoding: decoding may produce any number/);
    assert.match(h, /^\*\*Ignored by constrained decoding\*\* \(`grammar-ignored-keyword`\)/);
  });

  test('a property name shows its description, type and whether it is required', () => {
    assert.equal(hover('      label: {', '      la|bel: {'), '**Property `label`** · required\n\nThe team that owns it.\n\nType: one of `"billing"`, `"shipping"`');
    assert.equal(hover('      urgent: {', '      ur|gent: {'), '**Property `urgent`** · required\n\nType: `boolean`');
  });

  test('an enum value says which examples expect it', () => {
    assert.equal(hover('enum: [billing,', 'enum: [bil|ling,'), '**Allowed value `"billing"`** of `/label`\n\nExpected by 1 of 2 examples: `double charge`.');
  });

  test('a placeholder says which examples supply it', () => {
    assert.equal(hover('{{complaint}}', '{{compl|aint}}'), "**Placeholder `{{complaint}}`**: filled from each example's `input.complaint`.\n\nSupplied by 2 of 2 examples: `double charge`, `late parcel`.");
    const base = CONTRACT.replace('      tier: basic\n', '');
    const h = hover('{{tier}}', '{{t|ier}}', {}, base);
    assert.match(h, /Supplied by 1 of 2 examples: `double charge`\.\n\nMissing in: `late parcel`\.$/);
    assert.match(h, /^\*\*Placeholder `\{\{tier\}\}`\*\*/);
  });

  test('an example shows its name, description, input and expected value', () => {
    assert.equal(
      hover('  - name: double charge', '  - name: double| charge'),
      '**Example `double charge`** · 1 of 2\n\nCharged twice.\n\nInput:\n- `complaint`: `"charged twice"`\n- `tier`: `"gold"`\n\nExpected: `{"label":"billing","urgent":true}`',
    );
  });

  test('the results store adds the last run of an example', () => {
    const results: ResultsStore = { lastRun: (uri, name) => (uri === 'file:///ws/demo.contract.yaml' && name === 'late parcel' ? { status: 'pass', quantization: 'Q8_0', latencyMs: 312.4 } : undefined) };
    const h = hover('  - name: late parcel', '  - name: la|te parcel', { uri: 'file:///ws/demo.contract.yaml', results });
    assert.match(h, /\n\nLast run: pass · Q8_0 · 312 ms$/);
  });

  test('an input key says which prompt part uses it; an expected key describes the property', () => {
    assert.equal(hover('      tier: basic', '      ti|er: basic'), '**Input `tier`**: fills `{{tier}}` in `prompt.user`.');
    assert.match(hover('      label: shipping', '      lab|el: shipping'), /^\*\*Property `label`\*\*\n\nThe team that owns it\./);
  });

  test('a range with a diagnostic explains its code first', () => {
    const base = CONTRACT.replace('      urgent: false', '      urgent: "no"');
    const h = hover('      urgent: "no"', '      urgent: "n|o"', {}, base);
    assert.match(h, /^\*\*Expected value breaks the output schema\*\* \(`example-schema-mismatch`\): An example's `expected` value/);
  });

  test('nothing to say: no hover', () => {
    const m = at('"charged twice"', '"charged| twice"');
    assert.equal(hoverAt(m.result, m.offset), undefined);
  });
});

describe('completion', () => {
  test('contract keys not yet present, with descriptions', () => {
    const m = at('description: Route complaints.\n', 'description: Route complaints.\n|\n');
    const items = completionsAt(m.result, m.offset);
    assert.deepEqual(items.map((i) => i.label).sort(), ['budgets', 'model', 'run']);
    const model = items.find((i) => i.label === 'model')!;
    assert.equal(model.insertText, 'model: ');
    assert.match(model.documentation ?? '', /model/i);
  });

  test('keys of a nested section, even while the YAML is broken', () => {
    assert.deepEqual(labels('  match: fields\n', '  match: fields\n  ig|\n'), ['ignore']);
    const m = at('  match: fields\n', '  match: fields\n  ig|\n');
    assert.ok(m.result.findings.length > 0, 'the edited text is not a valid contract');
  });

  test('renaming an existing key inserts only the name', () => {
    const m = at('  match: fields', '  ma|tch: fields');
    assert.deepEqual(completionsAt(m.result, m.offset).map((c) => [c.label, c.insertText, m.text.slice(c.start, c.end)]), [['match', 'match', 'match'], ['ignore', 'ignore', 'match']]);
    const f = at('{ complaint: "charged twice", tier: gold }', '{ complaint: "charged twice", ti|er: gold }');
    assert.deepEqual(completionsAt(f.result, f.offset).map((c) => [c.label, c.insertText]), [['tier', 'tier']]);
  });

  test('values of format enums (match, decoding)', () => {
    assert.deepEqual(labels('  match: fields', '  match: |'), ['exact', 'fields', 'subset']);
    assert.deepEqual(labels('description: Route complaints.\n', 'description: Route complaints.\nmodel:\n  decoding: c|\n'), ['constrained', 'free']);
    const m = at('  match: fields', '  match: fi|');
    const c = completionsAt(m.result, m.offset)[1]!;
    assert.deepEqual([c.insertText, m.text.slice(c.start, c.end)], ['fields', 'fi']);
  });

  test('placeholder names after {{ in the prompt', () => {
    const m = at('  system: "Answer with JSON only."', '  system: "Answer with JSON only. {{|"');
    const items = completionsAt(m.result, m.offset);
    assert.deepEqual(items.map((i) => [i.label, i.insertText]), [['complaint', 'complaint}}'], ['tier', 'tier}}']]);
    const closed = at('{{tier}}', '{{t|ier}}');
    assert.deepEqual(completionsAt(closed.result, closed.offset).map((i) => [i.insertText, closed.text.slice(i.start, i.end)]), [['complaint', 'tier'], ['tier', 'tier']]);
  });

  test('no placeholder completion outside the prompt', () => {
    assert.deepEqual(labels('Charged twice.', 'Charged {{| twice.'), []);
  });

  test('enum values inside examples[i].expected, flow and block style', () => {
    assert.deepEqual(labels('{ label: billing, urgent', '{ label: b|, urgent'), ['billing', 'shipping']);
    assert.deepEqual(labels('urgent: true }', 'urgent: | }'), ['true', 'false']);
    const m = at('      label: shipping', '      label: s|hipping');
    const items = completionsAt(m.result, m.offset);
    assert.deepEqual(items.map((i) => [i.label, m.text.slice(i.start, i.end)]), [['billing', 'shipping'], ['shipping', 'shipping']]);
  });

  test('property names inside examples[i].expected', () => {
    assert.deepEqual(labels('      urgent: false', '      urgent: false\n      |'), []);
    const base = CONTRACT.replace('      urgent: false\n', '');
    const items = (() => {
      const m = at('      label: shipping\n', '      label: shipping\n      |\n', base);
      return completionsAt(m.result, m.offset);
    })();
    assert.deepEqual(items.map((i) => [i.label, i.detail]), [['urgent', 'required']]);
  });

  test('input keys are the placeholders not yet given', () => {
    const base = CONTRACT.replace('      tier: basic\n', '');
    assert.deepEqual(labels('      complaint: "parcel late"\n', '      complaint: "parcel late"\n      |\n', base), ['tier']);
    assert.deepEqual(labels('{ complaint: "charged twice", tier: gold }', '{ complaint: "charged twice", | }'), ['tier']);
  });

  test('keys of an example item', () => {
    assert.deepEqual(labels('  - name: late parcel\n', '  - name: late parcel\n    |\n'), ['description', 'tags', 'skip']);
    assert.deepEqual(labels('examples:\n', 'examples:\n  - |\n'), ['name', 'input', 'expected', 'description', 'tags', 'skip']);
  });

  test('JSON Schema keywords inside output.schema, types after type:', () => {
    const keys = labels('    type: object\n', '    type: object\n    |\n');
    assert.ok(keys.includes('description') && keys.includes('$defs') && !keys.includes('type') && !keys.includes('properties'));
    assert.deepEqual(labels('    type: object', '    type: o|'), ['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']);
    assert.deepEqual(labels('      urgent: {', '      |\n      urgent: {'), []);
  });
});

describe('cursor context', () => {
  const ctx = (marked: string) => {
    const m = caret(marked, '^');
    return cursorContext(m.text, m.offset);
  };

  test('block mappings, sequences and compact items', () => {
    assert.deepEqual(ctx('a:\n  b:\n    c: 1\n    ^').path, ['a', 'b']);
    assert.deepEqual(ctx('xs:\n  - a: 1\n  - b: 2\n    ^').path, ['xs', 1]);
    assert.deepEqual(ctx('xs:\n- a: 1\n- ^').path, ['xs', 1]);
    assert.deepEqual(ctx('xs:\n  - a:\n      k: 1\n      ^').path, ['xs', 0, 'a']);
    assert.deepEqual(ctx('xs:\n  - a: 1\n    b: ^').path, ['xs', 0, 'b']);
    assert.deepEqual(ctx('- items:\n  - a: 1\n  - b: 2\n    ^').path, [0, 'items', 1]);
    assert.deepEqual(ctx('top:\n  - items:\n    - a: 1\n      ^').path, ['top', 0, 'items', 0]);
  });

  test('siblings above and below, not the key being typed', () => {
    const c = ctx('a:\n  b: 1\n  ^\n  c: 2\nd: 3');
    assert.deepEqual([c.kind, c.path, c.siblings], ['key', ['a'], ['b', 'c']]);
  });

  test('inside a block scalar is text', () => {
    const c = ctx('prompt:\n  user: |\n    Hello {{^\n');
    assert.deepEqual([c.kind, c.path], ['text', ['prompt', 'user']]);
  });

  test('flow collections on the line', () => {
    assert.deepEqual(ctx('e: { a: [1, {b: ^').path, ['e', 'a', 1, 'b']);
    assert.equal(ctx('e: { a: 1, ^').kind, 'key');
  });
});

describe('document symbols', () => {
  const slim = (s: ContractSymbol): unknown => [s.name, s.kind, s.start, s.end, s.selStart, s.selEnd, s.children.map(slim)];

  test('the contract with its sections and each example by name', () => {
    const r = checkContract(CONTRACT, { host });
    const [root] = documentSymbols(r);
    assert.ok(root);
    assert.deepEqual([root.name, root.kind, root.start, root.end, CONTRACT.slice(root.selStart, root.selEnd)], ['demo', 'contract', 0, CONTRACT.length, 'demo']);
    assert.deepEqual(root.children.map((c) => [c.name, c.kind]), [['prompt', 'section'], ['output', 'section'], ['examples', 'list']]);
    const examples = root.children[2]!;
    assert.deepEqual(examples.children.map((c) => [c.name, c.detail, CONTRACT.slice(c.selStart, c.selEnd), CONTRACT.slice(c.start, c.start + 10)]), [
      ['double charge', 'Charged twice.', 'double charge', 'name: doub'],
      ['late parcel', undefined, 'late parcel', 'name: late'],
    ]);
    assert.deepEqual(root.children[0]!.children.map((c) => c.name), ['system', 'user']);
    for (const s of [root, ...root.children, ...examples.children]) assert.ok(s.start <= s.selStart && s.selEnd <= s.end, `${s.name}: selection inside range ${JSON.stringify(slim(s))}`);
  });

  test('nothing for a document that is not a mapping', () => {
    assert.deepEqual(documentSymbols(checkContract('- a\n- b\n', { host })), []);
  });
});

describe('code lenses', () => {
  test('Run all on the first line, Run example on each named example', () => {
    const r = checkContract(CONTRACT, { host });
    const lines = (o: number) => CONTRACT.slice(0, o).split('\n').length - 1;
    assert.deepEqual(
      codeLenses(r).map((l) => [l.title, lines(l.start), l.action]),
      [
        ['Run all', 0, { kind: 'runAll' }],
        ['Run example', 15, { kind: 'runExample', example: 'double charge' }],
        ['Run example', 19, { kind: 'runExample', example: 'late parcel' }],
      ],
    );
  });
});

/**
 * "Accept actual output as expected" in the core: the edit keeps the style of the value it
 * replaces, orders keys like the schema, quotes only where YAML needs it, inserts a missing
 * `expected` after `input`, and the edited contract checks with no new errors — for every pair of
 * examples of every sample (one example's expected value accepted as another's output).
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { acceptOutputEdit, applyOffsetEdit, renderYamlValue } from '../server/src/core/accept-output';
import { checkContract, type CheckResult } from '../server/src/core/check';
import { parseYaml } from '../server/src/core/yaml-source';
import { fsHost } from '../server/src/node-host';

const ROOT = path.join(__dirname, '..');
const SAMPLES = path.join(ROOT, 'samples');

function check(text: string, file = path.join(SAMPLES, 'inline.contract.yaml')): CheckResult {
  return checkContract(text, { file, host: fsHost(ROOT) });
}

function accept(text: string, example: string, output: unknown): string | undefined {
  const r = check(text);
  const ex = r.examples.find((e) => e.name === example);
  assert.ok(ex, example);
  const edit = acceptOutputEdit(r, ex.index, output);
  return edit && applyOffsetEdit(text, edit);
}

function errors(r: CheckResult): string[] {
  return r.findings.filter((f) => f.severity === 'error').map((f) => f.code).sort();
}

const TRIAGE = fs.readFileSync(path.join(SAMPLES, 'specialist-triage.contract.yaml'), 'utf8');

test('a flow mapping stays a flow mapping on its line, keys in the schema order', () => {
  const out = accept(TRIAGE, 'german billing', { urgent: false, label: 'shipping' });
  assert.ok(out);
  const before = TRIAGE.split('\n');
  const after = out.split('\n');
  assert.equal(after.length, before.length);
  const changed = after.map((l, i) => [l, before[i]] as const).filter(([a, b]) => a !== b);
  assert.deepEqual(changed, [['    expected: { label: shipping, urgent: false }', '    expected: { label: billing, urgent: false }']]);
  assert.deepEqual(errors(check(out)), []);
});

const BLOCK = `contract: block
prompt:
  user: "Extract from {{text}}"
output:
  schema:
    type: object
    required: [name, tags, address]
    properties:
      name: { type: string }
      tags: { type: array, items: { type: string } }
      address:
        type: object
        properties:
          city: { type: string }
          zip: { type: string }
examples:
  - name: first
    input:
      text: "Ann, Berlin"
    expected:
      name: Ann     # the person
      tags: [a]
      address:
        city: Berlin
        zip: "10115"
    tags: [x]
  - name: second
    input: { text: "Bo" }
`;

test('a block mapping stays block at its indentation; nested values and lists keep block style; what follows is untouched', () => {
  const out = accept(BLOCK, 'first', { address: { zip: '01234', city: 'Köln' }, tags: ['true', 'a: b', ''], name: 'null' });
  assert.ok(out);
  const i = out.indexOf('    expected:\n');
  const j = out.indexOf('    tags: [x]');
  assert.equal(
    out.slice(i, j),
    ['    expected:', '      name: "null"', '      tags:', '        - "true"', '        - "a: b"', '        - ""', '      address:', '        city: Köln', '        zip: "01234"', ''].join('\n'),
  );
  assert.ok(out.endsWith(BLOCK.slice(BLOCK.indexOf('    tags: [x]'))));
  const r = check(out);
  assert.deepEqual(errors(r), errors(check(BLOCK)), 'no new errors (the second example has no expected yet)');
  assert.deepEqual(r.examples[0]!.expected, { name: 'null', tags: ['true', 'a: b', ''], address: { city: 'Köln', zip: '01234' } });
});

test('a missing expected is inserted after input: flow after a flow input, block after a block input (in the style of the other examples)', () => {
  const flow = accept(BLOCK, 'second', { name: 'Bo', tags: [], address: { city: 'Oslo' } });
  assert.ok(flow);
  // The other example writes expected in block style, so the new one is block too.
  assert.ok(flow.endsWith(['    input: { text: "Bo" }', '    expected:', '      name: Bo', '      tags: []', '      address:', '        city: Oslo', ''].join('\n')), flow);
  assert.deepEqual(errors(check(flow)), []);

  const noExpected = TRIAGE.replace('    input: { message: "" }\n    expected: { label: other, urgent: false }\n', '    input: { message: "" }\n');
  const inserted = accept(noExpected, 'empty message', { label: 'other', urgent: false });
  assert.equal(inserted, TRIAGE);

  const blockInput = TRIAGE.replace('    input: { message: "" }\n    expected: { label: other, urgent: false }\n', '    input:\n      message: ""\n    # the end\n');
  const afterBlock = accept(blockInput, 'empty message', { urgent: true, label: 'other' });
  assert.ok(afterBlock?.includes('    input:\n      message: ""\n    expected: { label: other, urgent: true }\n'), afterBlock);
  assert.deepEqual(errors(check(afterBlock!)), []);
});

test('CRLF documents get CRLF lines; an empty `expected:` gets a value', () => {
  const crlf = BLOCK.replace('    input: { text: "Bo" }\n', '    input: { text: "Bo" }\n    expected: { name: Bo, tags: [], address: {} }\n').replace(/\n/g, '\r\n');
  const out = accept(crlf, 'first', { name: 'Z', tags: ['q'], address: { city: 'C' } });
  assert.ok(out);
  assert.ok(!/[^\r]\n/.test(out), 'every newline is CRLF');
  assert.deepEqual(check(out).examples[0]!.expected, { name: 'Z', tags: ['q'], address: { city: 'C' } });

  const empty = TRIAGE.replace('    input: { message: "" }\n    expected: { label: other, urgent: false }\n', '    input: { message: "" }\n    expected:\n');
  assert.equal(accept(empty, 'empty message', { label: 'other', urgent: false }), TRIAGE);
  const commented = TRIAGE.replace('    input: { message: "" }\n    expected: { label: other, urgent: false }\n', '    input: { message: "" }\n    expected: # to do\n');
  assert.equal(accept(commented, 'empty message', { label: 'other', urgent: false }), TRIAGE.replace('    expected: { label: other, urgent: false }\n  - name: german', '    expected: { label: other, urgent: false } # to do\n  - name: german'));
});

test('scalars: a scalar expected stays one scalar; strings YAML would misread are quoted, and every one reads back as itself', () => {
  const hostile = ['true', 'null', '~', '123', '1e3', '0x1F', '- x', '# no', 'a: b', "it's", '"q"', '', ' lead', 'trail ', '@x', '`x', '*x', '&x', '!x', '%x', '{a}', '[a]', 'für', 'line\nbreak', 'tab\there', 'yes', 'no', 'on', '2024-01-01', '.nan', '\u2028', 'x'.repeat(300)];
  const text = `contract: s
prompt:
  user: "Say {{x}}"
output:
  schema: { type: string }
examples:
  - name: one
    input: { x: 1 }
    expected: hello
`;
  for (const s of hostile) {
    const out = accept(text, 'one', s);
    assert.ok(out, JSON.stringify(s));
    assert.equal(out.split(/\r?\n/).length, text.split('\n').length, `${JSON.stringify(s)} stays on one line`);
    const r = check(out);
    assert.equal(r.examples[0]!.expected, s);
    assert.deepEqual(errors(r), [], JSON.stringify(s));
  }
  for (const style of ['flow', 'block'] as const) {
    const value = { list: hostile, nested: { deep: [{ a: hostile.slice(0, 5) }] }, n: [1, -2.5, 0, null, true] };
    assert.deepEqual(parseYaml(renderYamlValue(value, style)).doc.toJS(), value, style);
  }
});

test('no edit when it cannot be written safely: a document that does not parse, or a flow example item', () => {
  const broken = `${TRIAGE}\n  - name: [unclosed\n`;
  const r = check(broken);
  assert.equal(acceptOutputEdit(r, 0, { label: 'other', urgent: false }), undefined);
  const flowItem = TRIAGE.replace('budgets:', '  - { name: flow, input: { message: "x" } }\nbudgets:');
  const fr = check(flowItem);
  const idx = fr.examples.find((e) => e.name === 'flow')!.index;
  assert.equal(acceptOutputEdit(fr, idx, { label: 'other', urgent: false }), undefined);
});

test('every sample: accepting any example’s expected value as another example’s output re-checks with no new errors and holds that value', () => {
  const files = fs.readdirSync(SAMPLES).filter((f) => f.endsWith('.contract.yaml'));
  assert.ok(files.length >= 6);
  let edits = 0;
  for (const f of files) {
    const file = path.join(SAMPLES, f);
    const text = fs.readFileSync(file, 'utf8');
    const r = check(text, file);
    const baseline = errors(r);
    const withExpected = r.examples.filter((e) => e.hasExpected);
    for (const target of r.examples) {
      for (const source of withExpected) {
        if (source.index === target.index) continue;
        const edit = acceptOutputEdit(r, target.index, source.expected);
        assert.ok(edit, `${f}: ${source.name} → ${target.name}`);
        const after = check(applyOffsetEdit(text, edit), file);
        assert.deepEqual(errors(after), baseline, `${f}: ${source.name} → ${target.name}`);
        assert.deepEqual(after.examples[target.index]!.expected, source.expected, `${f}: ${source.name} → ${target.name}`);
        // Only that example changed.
        for (const e of after.examples) if (e.index !== target.index) assert.deepEqual(e.expected, r.examples[e.index]!.expected);
        edits++;
      }
    }
  }
  assert.ok(edits > 100, `${edits} edits checked`);
});

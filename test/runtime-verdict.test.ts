import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { compileSchema, prepareSchema } from '../server/src/core/output-schema';
import { compareValues, judge, parseJsonStrict, trailingWhitespaceRun, type JudgeInput } from '../server/src/core/verdict';
import { checkBudgets, distribution, percentile } from '../server/src/core/stats';

function validator(schema: unknown) {
  const r = compileSchema(prepareSchema(schema, undefined, { readFile: () => undefined, workspaceRoot: '/' }));
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.compiled.validate;
}

const labelSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['label', 'confidence'],
  properties: { label: { enum: ['billing', 'shipping', 'other'] }, confidence: { type: 'number', minimum: 0, maximum: 1 } },
};

function j(output: string, over: Partial<JudgeInput> = {}) {
  return judge({ output, stopReason: 'eog', validate: validator(labelSchema), expected: { label: 'billing', confidence: 0.9 }, match: 'exact', ignore: [], maxTokens: 64, ...over });
}

test('pass: exact equality, whitespace around the JSON allowed, key order irrelevant', () => {
  const r = j(' \n{"confidence": 0.90, "label": "billing"}\n\n');
  assert.equal(r.verdict.kind, 'pass');
  assert.deepEqual(r.parsed, { label: 'billing', confidence: 0.9 });
});

test('error: the runner failed', () => {
  const r = j('', { error: 'boom', stopReason: 'error' });
  assert.equal(r.verdict.kind, 'error');
  assert.match(r.verdict.message, /boom/);
});

test('truncated: stopped at maxTokens inside the JSON', () => {
  const r = j('{"label": "bill', { stopReason: 'maxTokens' });
  assert.equal(r.verdict.kind, 'truncated');
  assert.match(r.verdict.message, /maxTokens \(64\)/);
});

test('truncated: stopped at maxTokens on a bare number (it may have continued)', () => {
  const r = judge({ output: '12', stopReason: 'maxTokens', validate: validator({ type: 'number' }), expected: 12, match: 'exact', ignore: [] });
  assert.equal(r.verdict.kind, 'truncated');
});

test('not truncated: an object completed exactly at maxTokens is judged normally', () => {
  assert.equal(j('{"label":"billing","confidence":0.9}', { stopReason: 'maxTokens' }).verdict.kind, 'pass');
});

test('truncated: runaway whitespace inside an unfinished value', () => {
  const out = '{"label": "billing", ' + '\n'.repeat(40);
  assert.equal(trailingWhitespaceRun(out), 41); // the space after the comma counts too
  const r = j(out, { stopReason: 'whitespace' });
  assert.equal(r.verdict.kind, 'truncated');
  assert.match(r.verdict.message, /runaway whitespace/);
});

test('runaway whitespace after a complete value is not a truncation', () => {
  assert.equal(j('{"label":"billing","confidence":0.9}' + '\n'.repeat(40), { stopReason: 'whitespace' }).verdict.kind, 'pass');
});

test('invalid-json: prose, empty output, code fences, duplicate keys', () => {
  assert.equal(j('The label is billing').verdict.kind, 'invalid-json');
  const empty = j('  \n');
  assert.equal(empty.verdict.kind, 'invalid-json');
  assert.match(empty.verdict.message, /empty/);
  const fenced = j('```json\n{"label":"billing","confidence":0.9}\n```');
  assert.equal(fenced.verdict.kind, 'invalid-json');
  assert.match(fenced.verdict.message, /code fence/);
  const dup = j('{"label":"other","label":"billing","confidence":0.9}');
  assert.equal(dup.verdict.kind, 'invalid-json');
  assert.match(dup.verdict.message, /duplicate key "label"/);
  const huge = j('{"label":"billing","confidence":-9666666e6999999}');
  assert.equal(huge.verdict.kind, 'invalid-json');
  assert.match(huge.verdict.message, /number at \/confidence is too large/);
  assert.equal(j('{"a": {"x": 1}, "b": {"x": 2}}', { validate: validator(true), expected: { a: { x: 1 }, b: { x: 2 } } }).verdict.kind, 'pass');
});

test('parseJsonStrict: escaped quotes in keys and nested scopes', () => {
  assert.deepEqual(parseJsonStrict('{"a\\"b": 1, "c": [{"a\\"b": 2}], "d": "}"}'), { ok: true, value: { 'a"b': 1, c: [{ 'a"b': 2 }], d: '}' } });
  const r = parseJsonStrict('[{"k":1,"k":2}]');
  assert.equal(r.ok, false);
  const bad = parseJsonStrict('{"a":1,}');
  assert.equal(bad.ok, false);
});

test('schema-mismatch: every ajv error with its JSON Pointer (missing property named on the property)', () => {
  const r = j('{"label":"refund","confidence":1.5,"extra":true}');
  assert.equal(r.verdict.kind, 'schema-mismatch');
  const ptrs = r.verdict.schemaErrors!.map((e) => `${e.pointer} ${e.keyword}`).sort();
  assert.deepEqual(ptrs, ['/confidence maximum', '/extra additionalProperties', '/label enum']);
  const missing = j('{"label":"billing"}');
  assert.equal(missing.verdict.kind, 'schema-mismatch');
  assert.deepEqual(missing.verdict.schemaErrors!.map((e) => e.pointer), ['/confidence']);
  assert.match(missing.verdict.message, /\/confidence/);
});

test('wrong-value (exact): differences, unexpected fields, per pointer with expected and actual', () => {
  const r = j('{"label":"shipping","confidence":0.9}');
  assert.equal(r.verdict.kind, 'wrong-value');
  assert.deepEqual(r.verdict.diffs, [{ pointer: '/label', kind: 'different', expected: 'billing', actual: 'shipping' }]);
});

test('ignore pointers skip a field and everything below it', () => {
  const r = j('{"label":"billing","confidence":0.2}', { ignore: ['/confidence'] });
  assert.equal(r.verdict.kind, 'pass');
  assert.deepEqual(compareValues({ a: { b: 1, c: 2 } }, { a: { b: 9, c: 9 } }, 'exact', ['/a']), []);
  assert.deepEqual(compareValues({ a: 1 }, { b: 1 }, 'exact', ['']), []);
  // ~1 and ~0 escapes
  assert.deepEqual(compareValues({ 'a/b': 1, 'c~d': 2 }, { 'a/b': 3, 'c~d': 4 }, 'exact', ['/a~1b', '/c~0d']), []);
});

test('exact: extra fields and array items are differences; order of array items matters', () => {
  assert.deepEqual(compareValues({ a: 1 }, { a: 1, b: 2 }, 'exact'), [{ pointer: '/b', kind: 'unexpected', actual: 2 }]);
  assert.deepEqual(compareValues([1, 2], [2, 1], 'exact').map((d) => d.pointer), ['/0', '/1']);
  assert.deepEqual(compareValues([1], [1, 2], 'exact'), [{ pointer: '/1', kind: 'unexpected', actual: 2 }]);
  assert.deepEqual(compareValues([1, 2], [1], 'exact'), [{ pointer: '/1', kind: 'missing', expected: 2 }]);
  assert.deepEqual(compareValues({ a: null }, {}, 'exact'), [{ pointer: '/a', kind: 'missing', expected: null }]);
  assert.deepEqual(compareValues({ a: { b: 1 } }, { a: 'x' }, 'exact'), [{ pointer: '/a', kind: 'different', expected: { b: 1 }, actual: 'x' }]);
  assert.deepEqual(compareValues(1, 1.0, 'exact'), []);
  assert.deepEqual(compareValues('1', 1, 'exact').length, 1);
});

test('fields: extra output fields ignored at every depth; arrays positional with equal length', () => {
  assert.deepEqual(compareValues({ a: 1, n: { x: 1 } }, { a: 1, b: 2, n: { x: 1, y: 2 } }, 'fields'), []);
  assert.deepEqual(compareValues({ a: 1 }, { a: 2, b: 2 }, 'fields'), [{ pointer: '/a', kind: 'different', expected: 1, actual: 2 }]);
  assert.deepEqual(compareValues({ items: [{ n: 'a' }] }, { items: [{ n: 'a', q: 1 }] }, 'fields'), []);
  assert.deepEqual(compareValues({ items: [{ n: 'a' }] }, { items: [{ n: 'a' }, { n: 'b' }] }, 'fields'), [{ pointer: '/items/1', kind: 'unexpected', actual: { n: 'b' } }]);
  assert.deepEqual(compareValues({ items: ['a', 'b'] }, { items: ['b', 'a'] }, 'fields').length, 2);
});

test('subset: expected items anywhere in the output array, matched one to one', () => {
  assert.deepEqual(compareValues({ tags: ['b', 'a'] }, { tags: ['a', 'c', 'b'] }, 'subset'), []);
  assert.deepEqual(compareValues({ tags: ['a', 'a'] }, { tags: ['a'] }, 'subset'), [{ pointer: '/tags/1', kind: 'unmatched-item', expected: 'a' }]);
  // Needs reassignment: greedy first-fit would fail here.
  assert.deepEqual(compareValues([{ x: 1 }, { x: 1, y: 3 }], [{ x: 1, y: 3 }, { x: 1, y: 2 }], 'subset'), []);
  // An unmatched object item names the closest item's differing fields (for editor locations).
  const d = compareValues({ items: [{ name: 'hammer', qty: 2 }] }, { items: [{ name: 'tape', qty: 1 }, { name: 'hammer', qty: 3 }] }, 'subset');
  assert.equal(d[0]!.kind, 'unmatched-item');
  assert.deepEqual(d.slice(1), [{ pointer: '/items/0/qty', actualPointer: '/items/1/qty', kind: 'different', expected: 2, actual: 3 }]);
  // Extra fields ignored inside matched items, as in fields mode.
  assert.deepEqual(compareValues({ items: [{ n: 1 }] }, { items: [{ n: 1, extra: true }] }, 'subset'), []);
  // Ignore pointers name expected-side paths.
  assert.deepEqual(compareValues({ items: [{ name: 'a', price: 1 }] }, { items: [{ name: 'b' }, { name: 'a', price: 5 }] }, 'subset', ['/items/0/price']), []);
});

test('judge with match modes end to end', () => {
  const v = validator({ type: 'object', properties: { tags: { type: 'array', items: { type: 'string' } }, note: { type: 'string' } } });
  const base = { stopReason: 'eog' as const, validate: v, expected: { tags: ['x'] }, ignore: [] };
  assert.equal(judge({ ...base, output: '{"tags":["y","x"],"note":"n"}', match: 'subset' }).verdict.kind, 'pass');
  assert.equal(judge({ ...base, output: '{"tags":["y","x"],"note":"n"}', match: 'fields' }).verdict.kind, 'wrong-value');
  assert.equal(judge({ ...base, output: '{"tags":["x"],"note":"n"}', match: 'fields' }).verdict.kind, 'pass');
  assert.equal(judge({ ...base, output: '{"tags":["x"],"note":"n"}', match: 'exact' }).verdict.kind, 'wrong-value');
});

test('aborted runs are cancelled, not failed', () => {
  assert.equal(j('{"la', { stopReason: 'abort' }).verdict.kind, 'cancelled');
});

test('percentiles: nearest rank on observed values', () => {
  const s = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  assert.equal(percentile(s, 50), 5);
  assert.equal(percentile(s, 95), 10);
  assert.equal(percentile(s, 10), 1);
  assert.equal(percentile([7], 99), 7);
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.deepEqual(distribution(hundred.slice().reverse()), { n: 100, min: 1, p50: 50, p95: 95, p99: 99, max: 100 });
  assert.equal(distribution([]), undefined);
  assert.equal(distribution([NaN, 3])!.n, 1);
});

test('budgets: pass rate (default: every example must pass), latency and ttft percentiles, unmeasured', () => {
  const none = checkBudgets(undefined, { judged: 4, passed: 3, latencyMs: [1], ttftMs: [1] });
  assert.equal(none.length, 1);
  assert.equal(none[0]!.status, 'fail');
  assert.match(none[0]!.message, /every example must pass/);
  const b = checkBudgets({ passRate: 0.75, p50Ms: 10, p95Ms: 20, ttftP95Ms: 5 }, { judged: 4, passed: 3, latencyMs: [5, 6, 7, 30], ttftMs: [1, 2, 3, 4] });
  assert.deepEqual(b.map((x) => `${x.name}:${x.status}`), ['passRate:pass', 'p50Ms:pass', 'p95Ms:fail', 'ttftP95Ms:pass']);
  assert.equal(b[2]!.actual, 30);
  const cached = checkBudgets({ p95Ms: 20 }, { judged: 2, passed: 2, latencyMs: [], ttftMs: [] });
  assert.deepEqual(cached.map((x) => x.status), ['pass', 'unmeasured']);
  assert.match(cached[1]!.message, /--no-cache/);
});

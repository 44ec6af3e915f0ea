import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkContract } from '../server/src/core/check';
import { prepareSchema } from '../server/src/core/output-schema';
import { fsHost } from '../server/src/node-host';
import { orderedPrepared } from '../server/src/runtime/engine';
import { endAtValue, GrammarError, planGrammar, restoreKeyOrder, toGbnfJsonSchema } from '../server/src/runtime/grammar';

const host = { readFile: () => undefined, workspaceRoot: '/' };
const conv = (schema: unknown) => toGbnfJsonSchema(prepareSchema(schema, undefined, host));

test('basic keywords pass through; unsupported ones are dropped and listed', () => {
  const r = conv({
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 40, pattern: '^[A-Z]' },
      when: { type: 'string', format: 'date' },
      mail: { type: 'string', format: 'email' },
      n: { type: 'integer', minimum: 0 },
      tags: { type: 'array', items: { type: 'string' }, maxItems: 3, uniqueItems: true },
    },
  });
  assert.deepEqual(restoreKeyOrder(r.schema, { properties: { name: 1, when: 1, mail: 1, n: 1, tags: 1 } }), {
    type: 'object',
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 40 },
      when: { type: 'string', format: 'date' },
      mail: { type: 'string' },
      n: { type: 'integer' },
      tags: { type: 'array', items: { type: 'string' }, maxItems: 3 },
    },
    additionalProperties: false,
  });
  assert.deepEqual(r.dropped, ['/properties/mail: format email', '/properties/n: minimum', '/properties/name: pattern', '/properties/tags: uniqueItems']);
});

test('enum, const, type lists, nullable, anyOf as a union, enum of objects', () => {
  assert.deepEqual(conv({ enum: ['a', 1, null] }).schema, { enum: ['a', 1, null] });
  assert.deepEqual(conv({ const: 'x' }).schema, { const: 'x' });
  assert.deepEqual(conv({ type: ['string', 'null'] }).schema, { type: ['string', 'null'] });
  assert.deepEqual(conv({ type: ['string', 'null'], maxLength: 3 }).schema, { oneOf: [{ type: 'string', maxLength: 3 }, { type: 'null' }] });
  assert.deepEqual(conv({ anyOf: [{ type: 'string' }, { type: 'number' }] }).schema, { type: ['string', 'number'] });
  assert.deepEqual(conv({ enum: [{ a: 1 }, [true]] }).schema, {
    oneOf: [
      { type: 'object', properties: { a: { const: 1 } }, additionalProperties: false },
      { type: 'array', prefixItems: [{ const: true }], minItems: 1, maxItems: 1 },
    ],
  });
  // oneOf with sibling keywords: siblings apply to every branch.
  assert.deepEqual(conv({ type: 'object', properties: { k: { type: 'string' } }, oneOf: [{ required: ['k'] }, { properties: { k: { const: 'x' } } }] }).schema, {
    oneOf: [
      { type: 'object', properties: { k: { type: 'string' } }, additionalProperties: false },
      { type: 'object', properties: { k: { const: 'x' } }, additionalProperties: false },
    ],
  });
});

test('objects without properties allow any members; the empty schema is any JSON', () => {
  assert.deepEqual(conv({ type: 'object' }).schema, { type: 'object', properties: {}, additionalProperties: true });
  const any = conv({}).schema as { oneOf: { type: unknown }[] };
  assert.deepEqual(any.oneOf.map((o) => o.type), [['string', 'number', 'boolean', 'null'], 'object', 'array']);
});

test('allOf members merge into the parent', () => {
  assert.deepEqual(conv({ allOf: [{ type: 'object', properties: { a: { type: 'string' } } }, { properties: { b: { type: 'number' } }, required: ['b'] }] }).schema, {
    type: 'object',
    properties: { a: { type: 'string' }, b: { type: 'number' } },
    additionalProperties: false,
  });
});

test('false subschemas remove properties and items; unsatisfiable schemas are a clear error', () => {
  assert.deepEqual(conv({ type: 'object', properties: { a: { type: 'string' }, gone: false } }).schema, { type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false });
  assert.deepEqual(conv({ type: 'array', items: false }).schema, { type: 'array', maxItems: 0 });
  assert.throws(() => conv(false), (e: unknown) => e instanceof GrammarError && /allows no value/.test(e.message));
  assert.throws(() => conv({ enum: [] }), GrammarError);
  assert.throws(() => conv({ type: 'object', required: ['x'], properties: { x: false } }), GrammarError);
  assert.throws(() => conv({ type: 'string', minLength: 5, maxLength: 2 }), GrammarError);
  assert.throws(() => conv({ type: 'array', minItems: 3, maxItems: 1 }), GrammarError);
});

test('draft-07 tuples and 2020-12 prefixItems', () => {
  assert.deepEqual(conv({ type: 'array', prefixItems: [{ type: 'string' }, { type: 'number' }], items: false }).schema, { type: 'array', prefixItems: [{ type: 'string' }, { type: 'number' }], minItems: 2, maxItems: 2 });
  assert.deepEqual(conv({ $schema: 'http://json-schema.org/draft-07/schema#', type: 'array', items: [{ type: 'string' }], additionalItems: { type: 'null' } }).schema, { type: 'array', prefixItems: [{ type: 'string' }], items: { type: 'null' }, minItems: 1 });
});

test('local $refs (recursive too) become $defs', () => {
  const r = conv({ $defs: { node: { type: 'object', properties: { v: { type: 'number' }, kids: { type: 'array', items: { $ref: '#/$defs/node' } } } } }, $ref: '#/$defs/node' });
  assert.deepEqual(r.schema, {
    $ref: '#/$defs/d0',
    $defs: { d0: { type: 'object', properties: { v: { type: 'number' }, kids: { type: 'array', items: { $ref: '#/$defs/d0' } } }, additionalProperties: false } },
  });
  assert.throws(() => conv({ $ref: '#/$defs/missing' }), GrammarError);
});

test('file $refs are inlined as local $defs (from the checker\'s prepared schema), in written key order', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pc-grammar-'));
  fs.writeFileSync(path.join(dir, 'item.schema.json'), JSON.stringify({ type: 'object', properties: { z: { type: 'string' }, a: { type: 'number' } }, $defs: { c: { enum: ['EUR', 'USD'] } } }));
  const file = path.join(dir, 'x.contract.yaml');
  const text = `contract: x
prompt: { user: "{{t}}" }
output:
  schema:
    type: object
    properties:
      second: { type: string }
      first: { type: array, items: { $ref: ./item.schema.json } }
      cur: { $ref: "./item.schema.json#/$defs/c" }
examples:
  - name: e
    input: { t: a }
    expected: { second: s, first: [{ z: q, a: 1 }], cur: EUR }
`;
  fs.writeFileSync(file, text);
  const check = checkContract(text, { file, host: fsHost(dir) });
  assert.deepEqual(check.findings.filter((f) => f.severity === 'error'), []);
  const plan = planGrammar(orderedPrepared(check), false);
  const s = plan.converted!.schema as { properties: Record<string, unknown>; $defs: Record<string, { properties?: Record<string, unknown> }> };
  assert.deepEqual(Object.keys(s.properties), ['second', 'first', 'cur']);
  assert.deepEqual(s.properties.first, { type: 'array', items: { $ref: '#/$defs/d0' } });
  assert.deepEqual(s.properties.cur, { $ref: '#/$defs/d1' });
  assert.deepEqual(Object.keys(s.$defs.d0!.properties!), ['z', 'a']);
  assert.deepEqual(s.$defs.d1, { enum: ['EUR', 'USD'] });
  assert.equal(planGrammar(undefined, true).hash, 'free');
});

test('the hash is stable, changes with the schema, and with the order of properties (the order they are generated in)', () => {
  assert.equal(conv({ type: 'object', properties: { a: { type: 'string' } } }).hash, conv({ type: 'object', properties: { a: { type: 'string' } } }).hash);
  assert.notEqual(conv({ type: 'string' }).hash, conv({ type: 'number' }).hash);
  const ab = toGbnfJsonSchema({ schema: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'string' } } }, externals: new Map() });
  const ba = toGbnfJsonSchema({ schema: { type: 'object', properties: { b: { type: 'string' }, a: { type: 'string' } } }, externals: new Map() });
  assert.notEqual(ab.hash, ba.hash);
});

test('endAtValue removes the trailing newlines of the root rule only', () => {
  const g = 'root ::= "{" rule0 "}" "\\n\\n\\n\\n" [\\n]*\nrule0 ::= [a-z]*';
  assert.equal(endAtValue(g), 'root ::= "{" rule0 "}"\nrule0 ::= [a-z]*');
  assert.equal(endAtValue('root ::= "x"'), undefined);
});

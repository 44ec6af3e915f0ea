/** Hostile and broken input: each gets a clear finding; nothing throws, hangs or touches the network. */
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkContract, decodeContract } from '../server/src/core/check';
import { fsHost } from '../server/src/node-host';

// The real module objects (a namespace import is read-only), so the traps catch every caller.
const http = require('node:http') as typeof import('node:http');
const https = require('node:https') as typeof import('node:https');

let ws: string;
const networkCalls: string[] = [];
const saved = { fetch: globalThis.fetch, http: http.request, https: https.request, hget: http.get, sget: https.get };

before(() => {
  ws = fs.mkdtempSync(path.join(os.tmpdir(), 'contracts-bad-'));
  const trap = (name: string) => ((...args: unknown[]) => {
    networkCalls.push(`${name} ${String(args[0])}`);
    throw new Error('network access is forbidden in this test');
  }) as never;
  globalThis.fetch = trap('fetch');
  (http as { request: unknown }).request = trap('http.request');
  (https as { request: unknown }).request = trap('https.request');
  (http as { get: unknown }).get = trap('http.get');
  (https as { get: unknown }).get = trap('https.get');
});

after(() => {
  globalThis.fetch = saved.fetch;
  (http as { request: unknown }).request = saved.http;
  (https as { request: unknown }).request = saved.https;
  (http as { get: unknown }).get = saved.hget;
  (https as { get: unknown }).get = saved.sget;
  fs.rmSync(ws, { recursive: true, force: true });
  assert.deepEqual(networkCalls, [], 'the checker must never touch the network');
});

function contract(schema: string, expected = '{ a: 1 }'): string {
  return `contract: t\nprompt:\n  user: "Say {{x}}"\noutput:\n  schema: ${schema}\nexamples:\n  - name: a\n    input: { x: "1" }\n    expected: ${expected}\n`;
}

function check(text: string, file = path.join(ws, 'c.contract.yaml')) {
  return checkContract(text, { file, host: fsHost(ws) });
}

function codes(text: string): string[] {
  return check(text).findings.map((f) => f.code);
}

function lineOf(text: string, code: string): number {
  const r = check(text);
  const f = r.findings.find((x) => x.code === code);
  assert.ok(f, `expected a ${code} finding, got ${r.findings.map((x) => x.code).join(', ')}`);
  return r.lines.position(f.start).line;
}

test('binary bytes are refused as a file, not parsed', () => {
  const bytes = new Uint8Array([0x63, 0x6f, 0x00, 0xff, 0xfe, 0x01, 0x02]);
  const d = decodeContract(bytes);
  assert.ok('finding' in d && d.finding.code === 'file-binary');
  const bad = decodeContract(new Uint8Array([0x61, 0x3a, 0x20, 0xc3, 0x28]));
  assert.ok('finding' in bad && /UTF-8/.test(bad.finding.message));
  assert.deepEqual(codes('contract: x\u0000\n'), ['file-binary']);
});

test('a 10 MB file gets file-too-large instead of a slow parse', { timeout: 5000 }, () => {
  const big = 'contract: big\ndescription: "' + 'x'.repeat(10 * 1024 * 1024) + '"\n';
  const r = check(big);
  assert.deepEqual(r.findings.map((f) => f.code), ['file-too-large']);
  assert.match(r.findings[0]!.message, /10\.0 MB/);
});

test('10,000 levels of flow nesting', { timeout: 10000 }, () => {
  const text = 'contract: deep\nexamples: ' + '['.repeat(10000) + ']'.repeat(10000) + '\n';
  const r = check(text);
  assert.ok(r.findings.some((f) => f.code === 'yaml-too-deep' || f.code === 'yaml-syntax'), r.findings.map((f) => f.code).join());
  assert.ok(!r.findings.some((f) => f.code === 'internal-error'));
});

test('10,000 levels of block nesting', { timeout: 20000 }, () => {
  const text = 'contract: deep\nexamples:\n' + '- '.repeat(10000) + 'x\n';
  const r = check(text);
  assert.ok(r.findings.some((f) => f.code === 'yaml-too-deep' || f.code === 'yaml-syntax'), r.findings.map((f) => f.code).join());
  assert.ok(!r.findings.some((f) => f.code === 'internal-error'));
});

test('a YAML alias bomb is refused', { timeout: 5000 }, () => {
  let text = 'contract: bomb\na0: &a0 [x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i < 10; i++) text += `a${i}: &a${i} [${Array(9).fill(`*a${i - 1}`).join(', ')}]\n`;
  assert.equal(lineOf(text, 'yaml-alias-limit'), 2);
});

test('huge numbers are flagged where they stand', () => {
  const text = contract('{ type: object, properties: { a: { type: number } }, required: [a], additionalProperties: false }', '{ a: 1e400 }');
  assert.equal(lineOf(text, 'number-precision'), 8);
  const big = contract('{ type: object, properties: { a: { type: integer } }, required: [a], additionalProperties: false }', '{ a: 90071992547409931234 }');
  assert.match(check(big).findings.find((f) => f.code === 'number-precision')!.message, /2\^53/);
});

test('a pathological pattern is not run and is reported', { timeout: 5000 }, () => {
  const text = contract('{ type: string, pattern: "^(a+)+$" }', `"${'a'.repeat(40)}!"`);
  assert.equal(lineOf(text, 'schema-pattern-unsafe'), 4);
  for (const p of ['(a*)*b', '(x+x+)+y', '(\\\\w+\\\\s?)+$', '((ab)*c)*d', '(.*a){12}']) {
    const t = contract(`{ type: string, pattern: "${p}" }`, `"${'a'.repeat(40)}"`);
    assert.ok(codes(t).includes('schema-pattern-unsafe'), `pattern ${p} should be flagged`);
  }
  const safe = contract('{ type: string, pattern: "^[A-Z]{3}-\\\\d+$" }', '"ABC-12"');
  assert.ok(!codes(safe).includes('schema-pattern-unsafe'));
  assert.ok(!codes(safe).includes('example-schema-mismatch'));
  const bad = contract('{ type: string, pattern: "^(unclosed" }', '"x"');
  assert.ok(check(bad).findings.some((f) => f.code === 'schema-invalid' && /regular expression/.test(f.message)));
});

test('a recursive $ref that never consumes data is reported, not a crash', { timeout: 5000 }, () => {
  assert.equal(lineOf(contract('{ $ref: "#" }'), 'schema-recursive'), 4);
  const mutual = contract('{ $defs: { a: { $ref: "#/$defs/b" }, b: { $ref: "#/$defs/a" } }, $ref: "#/$defs/a" }');
  const r = check(mutual);
  assert.ok(r.findings.some((f) => f.code === 'schema-recursive' || f.code === 'schema-invalid'), r.findings.map((f) => f.code).join());
});

test('recursive data schemas and cyclic file refs work', () => {
  fs.writeFileSync(path.join(ws, 'tree.json'), JSON.stringify({ type: 'object', properties: { children: { type: 'array', items: { $ref: './tree.json' } } }, additionalProperties: false }));
  const ok = check(contract('{ $ref: ./tree.json }', '{ children: [{ children: [] }] }'));
  assert.deepEqual(ok.findings.filter((f) => f.severity === 'error'), []);
  const bad = check(contract('{ $ref: ./tree.json }', '{ children: [{ kids: [] }] }'));
  const f = bad.findings.find((x) => x.code === 'example-schema-mismatch');
  assert.ok(f && /\/children\/0\/kids/.test(f.message), bad.findings.map((x) => x.message).join('\n'));
});

test('$ref to a URL is an error at the $ref and is never fetched', () => {
  const text = contract('{ $ref: "https://example.com/schema.json" }');
  assert.equal(lineOf(text, 'schema-ref-remote'), 4);
  const nested = contract('{ type: object, properties: { a: { $ref: "http://127.0.0.1:9/x.json" } } }');
  assert.ok(codes(nested).includes('schema-ref-remote'));
});

test('$ref outside the workspace, directly or through a symlink, is refused', () => {
  const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'contracts-outside-'));
  fs.writeFileSync(path.join(outside, 's.json'), '{"type":"object"}');
  const rel = path.relative(ws, path.join(outside, 's.json'));
  assert.equal(lineOf(contract(`{ $ref: "${rel}" }`), 'schema-ref-outside'), 4);
  assert.ok(codes(contract(`{ $ref: "${path.join(outside, 's.json')}" }`)).includes('schema-ref-outside'));
  fs.symlinkSync(path.join(outside, 's.json'), path.join(ws, 'link.json'));
  assert.ok(codes(contract('{ $ref: ./link.json }')).includes('schema-ref-outside'));
  fs.rmSync(outside, { recursive: true, force: true });
});

test('a missing $ref file is an error at the $ref', () => {
  assert.equal(lineOf(contract('{ $ref: ./nowhere.json }'), 'schema-ref-missing'), 4);
  fs.writeFileSync(path.join(ws, 'broken.json'), '{ not json');
  assert.ok(check(contract('{ $ref: ./broken.json }')).findings.some((f) => f.code === 'schema-invalid' && /not valid JSON/.test(f.message)));
});

test('garbage of every kind never throws', () => {
  const inputs = ['', '\n\n', '- a\n- b\n', '42', '"str"', 'contract: [', '{', 'contract: x\nexamples: 5\n', 'contract: x\noutput: { schema: 5 }\n', 'contract: x\nprompt: { user: 5 }\nexamples: [1, null, "s", []]\n', 'contract: x\noutput: { schema: { type: object, properties: 3, required: 4 } }\n', ':\n  - : :\n', '? [a]\n: b\n', 'x: !!binary AAAA\n', 'x: !foo bar\n'];
  for (const t of inputs) {
    const r = check(t);
    assert.ok(!r.findings.some((f) => f.code === 'internal-error'), `internal error on ${JSON.stringify(t)}: ${r.findings.map((f) => f.message).join()}`);
    assert.ok(r.findings.length > 0, `no finding at all for ${JSON.stringify(t)}`);
  }
});

test('a schema with 20,000 properties is refused before ajv compiles it (compile time grows with the square)', { timeout: 20000 }, () => {
  const props = [...Array(20000)].map((_, i) => `p${i}: {type: string}`).join(', ');
  const text = `contract: x\nprompt: {user: hi}\noutput: {schema: {type: object, properties: {${props}}}}\n`;
  assert.equal(lineOf(text, 'schema-too-large'), 2);
});

test('duplicate keys are found in one pass, even with many keys', { timeout: 20000 }, () => {
  const keys = [...Array(10000)].map((_, i) => `k${i}: 1`).join('\n');
  const text = `contract: x\ndescription:\n  a: 1\n${keys.replace(/^/gm, '  ')}\n  k5000: 2\n`;
  const r = check(text);
  const dups = r.findings.filter((f) => f.code === 'yaml-duplicate-key');
  assert.equal(dups.length, 1);
  assert.equal(r.lines.position(dups[0]!.start).line, 10003);
  assert.match(dups[0]!.message, /`k5000`/);
});

test('a multi-document file and 10,000-deep flow nesting get their own messages', () => {
  assert.match(check('contract: a\n---\ncontract: b\n').findings[0]!.message, /one YAML document/);
  const deep = check('contract: d\nnest: ' + '['.repeat(10000) + ']'.repeat(10000));
  assert.deepEqual(deep.findings.map((f) => f.code), ['yaml-too-deep']);
});

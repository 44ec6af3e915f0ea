import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkContract } from '../server/src/core/check';
import { IncrementalYaml } from '../server/src/core/incremental-yaml';
import { LineIndex } from '../server/src/core/findings';
import { renderTemplate, scanPlaceholders } from '../server/src/core/placeholders';
import { unsafePatternReason } from '../server/src/core/output-schema';
import { didYouMean } from '../server/src/core/text';
import { renderContractSchema, CONTRACT_SCHEMA_FILE } from '../scripts/gen-schemas';
import { largeContract } from '../bench/gen';
import { fsHost } from '../server/src/node-host';

test('LineIndex maps offsets and positions both ways, with CRLF and a trailing line', () => {
  const text = 'ab\r\ncd\nef';
  const li = new LineIndex(text);
  assert.deepEqual(li.position(0), { line: 0, character: 0 });
  assert.deepEqual(li.position(4), { line: 1, character: 0 });
  assert.deepEqual(li.position(8), { line: 2, character: 1 });
  assert.equal(li.offset({ line: 1, character: 1 }), 5);
  assert.equal(li.offset({ line: 9, character: 0 }), text.length);
  assert.deepEqual(li.range(7, 5), { start: { line: 2, character: 0 }, end: { line: 2, character: 0 } });
});

test('placeholders: names, spaces, escapes and malformed ones', () => {
  const t = 'Hi {{name}}, {{ age }} \\{{literal}} {{ 2x }} {{}} {{open\n';
  const toks = scanPlaceholders(t);
  assert.deepEqual(toks.filter((x) => x.name).map((x) => x.name), ['name', 'age']);
  assert.equal(toks.filter((x) => x.problem).length, 3);
  assert.equal(renderTemplate('Hi {{name}} \\{{x}} {{n}}', { name: 'Zoë', n: { a: 1 } }), 'Hi Zoë {{x}} {"a":1}');
});

test('didYouMean finds typos and prefixes, and stays quiet otherwise', () => {
  assert.equal(didYouMean('exampels', ['examples', 'output']), 'examples');
  assert.equal(didYouMean('p95', ['p50Ms', 'p95Ms']), 'p95Ms');
  assert.equal(didYouMean('zzz', ['examples', 'output']), undefined);
});

test('unsafe pattern detection', () => {
  for (const p of ['(a+)+', '(a|aa)*b+(c*)*', '(\\w+\\s?)+$', '\\1', 'x'.repeat(1001)]) assert.ok(unsafePatternReason(p), p);
  for (const p of ['^[a-z]+$', '^(\\d{3})-(\\d{4})$', '^(ab)+$', '^[A-Z]{2,3}(-\\d+)?$', '(\\d+\\.){3}\\d+']) assert.equal(unsafePatternReason(p), undefined, p);
});

test('schemas/contract.schema.json is generated from the zod format and up to date', () => {
  assert.equal(fs.readFileSync(CONTRACT_SCHEMA_FILE, 'utf8'), renderContractSchema(), 'run `npm run gen` and commit schemas/contract.schema.json');
});

function norm(r: ReturnType<typeof checkContract>) {
  return JSON.stringify({ f: r.findings, v: r.value });
}

test('incremental parsing gives exactly the findings of a full parse, over random edits', () => {
  const host = { readFile: () => undefined };
  const inputs = [largeContract(60)];
  const samples = path.join(__dirname, '..', 'samples');
  for (const f of fs.existsSync(samples) ? fs.readdirSync(samples) : []) {
    if (f.endsWith('.contract.yaml')) inputs.push(fs.readFileSync(path.join(samples, f), 'utf8').repeat(1).padEnd(4100, '\n'));
  }
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const alphabet = ['a', ' ', '\n', ':', '-', '"', '{', '}', '[', '#', '  - name: x\n', 'label: other', '&a', '*a', '\t'];
  let incremental = 0;
  for (const base of inputs) {
    const inc = new IncrementalYaml();
    let text = base;
    for (let i = 0; i < 60; i++) {
      const at = rand(text.length);
      const op = rand(3);
      if (op === 0) text = text.slice(0, at) + alphabet[rand(alphabet.length)] + text.slice(at);
      else if (op === 1) text = text.slice(0, at) + text.slice(at + 1 + rand(3));
      else text = text.slice(0, at) + text.slice(at, at + 1).toUpperCase() + text.slice(at + 1);
      const full = checkContract(text, { host });
      const part = checkContract(text, { host, yaml: inc });
      if (inc.lastMode === 'incremental') incremental++;
      assert.equal(norm(part), norm(full), `edit ${i} diverged`);
    }
  }
  assert.ok(incremental > 20, `the incremental path was taken only ${incremental} times`);
});

test('an edit inside one example re-parses only that example', () => {
  const inc = new IncrementalYaml();
  const text = largeContract(200);
  checkContract(text, { host: { readFile: () => undefined }, yaml: inc });
  const edited = text.replace('case 150.', 'case 150!.');
  const r = checkContract(edited, { host: { readFile: () => undefined }, yaml: inc });
  assert.equal(inc.lastMode, 'incremental');
  assert.equal(inc.lastParsed, 1);
  assert.deepEqual(r.findings.filter((f) => f.severity === 'error'), []);
  const wrong = edited.replace('label: other', 'label: othr');
  const r2 = checkContract(wrong, { host: { readFile: () => undefined }, yaml: inc });
  const f = r2.findings.find((x) => x.code === 'example-schema-mismatch');
  assert.ok(f);
  assert.equal(r2.lines.position(f.start).line, wrong.slice(0, wrong.indexOf('label: othr')).split('\n').length - 1);
});

test('a checker bug surfaces as an internal-error finding, never as "no problems"', () => {
  const host = {
    readFile: () => {
      throw new Error('disk on fire');
    },
  };
  const r = checkContract('contract: x\nprompt: { user: hi }\noutput: { schema: { $ref: ./s.json } }\nexamples: []\n', { host, file: '/tmp/x.contract.yaml' });
  assert.ok(r.findings.some((f) => f.code === 'internal-error' && /disk on fire/.test(f.message)));
});

test('samples check clean (no errors, no warnings)', () => {
  const dir = path.join(__dirname, '..', 'samples');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.contract.yaml'));
  assert.ok(files.length >= 6, `expected at least six samples, found ${files.length}`);
  for (const f of files) {
    const file = path.join(dir, f);
    const r = checkContract(fs.readFileSync(file, 'utf8'), { file, host: fsHost(path.join(__dirname, '..')) });
    const bad = r.findings.filter((x) => x.severity === 'error' || x.severity === 'warning');
    assert.deepEqual(bad.map((x) => `${f}:${r.lines.position(x.start).line + 1} ${x.code} ${x.message}`), []);
    assert.ok((r.contract?.examples.length ?? 0) >= 8, `${f} has fewer than 8 examples`);
  }
});
